// SPDX-License-Identifier: Apache-2.0
#include "agent/remote/nbd-netlink.h"

#include <errno.h>
#include <linux/genetlink.h>
#include <linux/nbd-netlink.h>
#include <linux/nbd.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/macro.h"

struct builder {
        uint8_t *buf;
        size_t size, len;
        bool overflow;
};

static void *put(struct builder *b, size_t n)
{
        size_t aligned = NLA_ALIGN(n);
        if (b->len + aligned > b->size) {
                b->overflow = true;
                return NULL;
        }
        void *p = b->buf + b->len;
        memset(p, 0, aligned);
        b->len += aligned;
        return p;
}

static void begin(struct builder *b, uint16_t type, uint32_t seq, uint8_t cmd, uint8_t version)
{
        struct nlmsghdr *h = put(b, NLMSG_HDRLEN);
        struct genlmsghdr *g = put(b, GENL_HDRLEN);
        if (!h || !g)
                return;
        h->nlmsg_type = type;
        h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        h->nlmsg_seq = seq;
        g->cmd = cmd;
        g->version = version;
}

static size_t end(struct builder *b)
{
        if (b->overflow)
                return 0;
        ((struct nlmsghdr *)b->buf)->nlmsg_len = (uint32_t)b->len;
        return b->len;
}

static void attr(struct builder *b, uint16_t type, const void *data, size_t n)
{
        struct nlattr *a = put(b, NLA_HDRLEN + n);
        if (!a)
                return;
        a->nla_type = type;
        a->nla_len = (uint16_t)(NLA_HDRLEN + n);
        memcpy((uint8_t *)a + NLA_HDRLEN, data, n);
}

static void attr_u64(struct builder *b, uint16_t type, uint64_t v)
{
        attr(b, type, &v, sizeof(v));
}

static void attr_u32(struct builder *b, uint16_t type, uint32_t v)
{
        attr(b, type, &v, sizeof(v));
}

/* A nested attribute: returns its offset, closed by nest_end(). */
static size_t nest_begin(struct builder *b, uint16_t type)
{
        size_t at = b->len;
        struct nlattr *a = put(b, NLA_HDRLEN);
        if (a)
                a->nla_type = (uint16_t)(type | NLA_F_NESTED);
        return at;
}

static void nest_end(struct builder *b, size_t at)
{
        if (!b->overflow)
                ((struct nlattr *)(b->buf + at))->nla_len = (uint16_t)(b->len - at);
}

size_t nbd_netlink_build_connect(uint16_t family, uint32_t seq, const struct nbd_connect_params *p,
                                 uint8_t *buf, size_t size)
{
        struct builder b = { .buf = buf, .size = size };
        begin(&b, family, seq, NBD_CMD_CONNECT, NBD_GENL_VERSION);
        if (p->index >= 0)
                attr_u32(&b, NBD_ATTR_INDEX, (uint32_t)p->index);
        attr_u64(&b, NBD_ATTR_SIZE_BYTES, p->size_bytes);
        attr_u64(&b, NBD_ATTR_BLOCK_SIZE_BYTES, p->block_bytes);
        if (p->timeout_sec)
                attr_u64(&b, NBD_ATTR_TIMEOUT, p->timeout_sec);
        attr_u64(&b, NBD_ATTR_SERVER_FLAGS, NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH);
        /* The device goes away with its disconnect: nothing is left for another user to open. */
        attr_u64(&b, NBD_ATTR_CLIENT_FLAGS, NBD_CFLAG_DESTROY_ON_DISCONNECT);
        size_t socks = nest_begin(&b, NBD_ATTR_SOCKETS);
        size_t item = nest_begin(&b, NBD_SOCK_ITEM);
        attr_u32(&b, NBD_SOCK_FD, (uint32_t)p->sock_fd);
        nest_end(&b, item);
        nest_end(&b, socks);
        return end(&b);
}

size_t nbd_netlink_build_disconnect(uint16_t family, uint32_t seq, uint32_t index, uint8_t *buf,
                                    size_t size)
{
        struct builder b = { .buf = buf, .size = size };
        begin(&b, family, seq, NBD_CMD_DISCONNECT, NBD_GENL_VERSION);
        attr_u32(&b, NBD_ATTR_INDEX, index);
        return end(&b);
}

size_t nbd_netlink_build_getfamily(uint32_t seq, const char *name, uint8_t *buf, size_t size)
{
        struct builder b = { .buf = buf, .size = size };
        begin(&b, GENL_ID_CTRL, seq, CTRL_CMD_GETFAMILY, 1);
        attr(&b, CTRL_ATTR_FAMILY_NAME, name, strlen(name) + 1);
        return end(&b);
}

int nbd_netlink_parse(const uint8_t *buf, size_t n, uint32_t seq, uint32_t *ret_value,
                      bool *ret_acked)
{
        int found = 0;
        *ret_acked = false;
        while (n >= NLMSG_HDRLEN) {
                const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
                if (h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > n)
                        return -EBADMSG;
                if (h->nlmsg_seq == seq) {
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                if (h->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nlmsgerr))
                                        return -EBADMSG;
                                const struct nlmsgerr *e =
                                    (const struct nlmsgerr *)(buf + NLMSG_HDRLEN);
                                if (e->error < 0)
                                        return e->error;
                                *ret_acked = true;
                        } else if (h->nlmsg_len >= NLMSG_HDRLEN + GENL_HDRLEN) {
                                /* The attribute we want is the family id (CTRL) or the index
                                 * (NBD): both u32-sized or smaller, by type. */
                                const uint8_t *a = buf + NLMSG_HDRLEN + GENL_HDRLEN;
                                size_t left = h->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
                                while (left >= NLA_HDRLEN) {
                                        const struct nlattr *at = (const struct nlattr *)a;
                                        if (at->nla_len < NLA_HDRLEN || at->nla_len > left)
                                                return -EBADMSG;
                                        const uint8_t *v = a + NLA_HDRLEN;
                                        uint16_t type = at->nla_type & NLA_TYPE_MASK;
                                        bool is_ctrl = h->nlmsg_type == GENL_ID_CTRL;
                                        if (is_ctrl && type == CTRL_ATTR_FAMILY_ID &&
                                            at->nla_len >= NLA_HDRLEN + 2) {
                                                uint16_t id;
                                                memcpy(&id, v, sizeof(id));
                                                *ret_value = id;
                                                found = 1;
                                        } else if (!is_ctrl && type == NBD_ATTR_INDEX &&
                                                   at->nla_len >= NLA_HDRLEN + 4) {
                                                memcpy(ret_value, v, sizeof(*ret_value));
                                                found = 1;
                                        }
                                        size_t step = NLA_ALIGN(at->nla_len);
                                        if (step > left)
                                                break;
                                        a += step;
                                        left -= step;
                                }
                        }
                }
                size_t step = NLMSG_ALIGN(h->nlmsg_len);
                if (step >= n)
                        break;
                buf += step;
                n -= step;
        }
        return found;
}

/* Sends one request and reads until its acknowledgement. */
static int transact(int fd, const uint8_t *msg, size_t len, uint32_t seq, uint32_t *ret_value)
{
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        if (sendto(fd, msg, len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
                return negative_errno();
        int found = 0;
        for (;;) {
                uint8_t buf[8192];
                ssize_t n = recv(fd, buf, sizeof(buf), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                bool acked;
                int r = nbd_netlink_parse(buf, (size_t)n, seq, ret_value, &acked);
                if (r < 0)
                        return r;
                found |= r;
                if (acked) /* the acknowledgement ends the exchange */
                        return found;
        }
}

static int open_family(uint16_t *ret_family)
{
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
        if (fd < 0)
                return negative_errno();
        uint8_t msg[256];
        uint32_t id = 0;
        size_t len = nbd_netlink_build_getfamily(1, NBD_GENL_FAMILY_NAME, msg, sizeof(msg));
        int r = transact(fd, msg, len, 1, &id);
        if (r <= 0) {
                close(fd);
                return r == 0 ? -ENOENT : r; /* ENOENT: the nbd module is not loaded */
        }
        *ret_family = (uint16_t)id;
        return fd;
}

int nbd_netlink_connect(const struct nbd_connect_params *p)
{
        uint16_t family;
        int fd = open_family(&family);
        if (fd < 0)
                return fd;
        uint8_t msg[512];
        uint32_t index = 0;
        size_t len = nbd_netlink_build_connect(family, 2, p, msg, sizeof(msg));
        int r = len ? transact(fd, msg, len, 2, &index) : -EMSGSIZE;
        close(fd);
        if (r < 0)
                return r;
        return r == 1 ? (int)index : -EBADMSG;
}

int nbd_netlink_disconnect(uint32_t index)
{
        uint16_t family;
        int fd = open_family(&family);
        if (fd < 0)
                return fd;
        uint8_t msg[256];
        uint32_t unused;
        size_t len = nbd_netlink_build_disconnect(family, 3, index, msg, sizeof(msg));
        int r = transact(fd, msg, len, 3, &unused);
        close(fd);
        return r < 0 ? r : 0;
}
