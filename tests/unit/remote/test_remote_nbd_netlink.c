// SPDX-License-Identifier: Apache-2.0
// The NBD generic netlink messages (agent/remote/nbd-netlink.c): NBD_CMD_CONNECT carries the
// size, block size, flags and our socket nested as the driver parses them (SOCKETS > SOCK_ITEM >
// SOCK_FD), and the kernel's answer (a reply with NBD_ATTR_INDEX, then the acknowledgement, in
// one read or two; or an error) is read as the driver writes it.
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/nbd-netlink.h>
#include <linux/nbd.h>
#include <linux/netlink.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/remote/nbd-netlink.h"

/* The attribute of type in [a, a+n), or NULL. */
static const struct nlattr *find(const uint8_t *a, size_t n, uint16_t type)
{
        while (n >= NLA_HDRLEN) {
                const struct nlattr *at = (const struct nlattr *)a;
                assert_true(at->nla_len >= NLA_HDRLEN && at->nla_len <= n);
                if ((at->nla_type & NLA_TYPE_MASK) == type)
                        return at;
                size_t step = NLA_ALIGN(at->nla_len);
                if (step >= n)
                        break;
                a += step;
                n -= step;
        }
        return NULL;
}

static uint64_t u64_of(const struct nlattr *a)
{
        uint64_t v;
        assert_int_equal(a->nla_len, NLA_HDRLEN + 8);
        memcpy(&v, (const uint8_t *)a + NLA_HDRLEN, 8);
        return v;
}

static void test_connect_message(void **state)
{
        (void)state;
        struct nbd_connect_params p = { .size_bytes = 64ull << 20,
                                        .block_bytes = 4096,
                                        .timeout_sec = 30,
                                        .sock_fd = 17,
                                        .index = -1 };
        uint8_t buf[512];
        size_t len = nbd_netlink_build_connect(0x1d, 9, &p, buf, sizeof(buf));
        assert_true(len > NLMSG_HDRLEN + GENL_HDRLEN);
        const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
        assert_int_equal(h->nlmsg_len, len);
        assert_int_equal(h->nlmsg_type, 0x1d);
        assert_int_equal(h->nlmsg_seq, 9);
        assert_true(h->nlmsg_flags & NLM_F_REQUEST);
        const struct genlmsghdr *g = (const struct genlmsghdr *)(buf + NLMSG_HDRLEN);
        assert_int_equal(g->cmd, NBD_CMD_CONNECT);
        assert_int_equal(g->version, NBD_GENL_VERSION);

        const uint8_t *attrs = buf + NLMSG_HDRLEN + GENL_HDRLEN;
        size_t n = len - NLMSG_HDRLEN - GENL_HDRLEN;
        assert_null(find(attrs, n, NBD_ATTR_INDEX)); /* the driver picks */
        assert_int_equal(u64_of(find(attrs, n, NBD_ATTR_SIZE_BYTES)), 64ull << 20);
        assert_int_equal(u64_of(find(attrs, n, NBD_ATTR_BLOCK_SIZE_BYTES)), 4096);
        assert_int_equal(u64_of(find(attrs, n, NBD_ATTR_TIMEOUT)), 30);
        assert_true(u64_of(find(attrs, n, NBD_ATTR_SERVER_FLAGS)) & NBD_FLAG_SEND_FLUSH);
        const struct nlattr *socks = find(attrs, n, NBD_ATTR_SOCKETS);
        assert_non_null(socks);
        assert_true(socks->nla_type & NLA_F_NESTED);
        const struct nlattr *item =
            find((const uint8_t *)socks + NLA_HDRLEN, socks->nla_len - NLA_HDRLEN, NBD_SOCK_ITEM);
        assert_non_null(item);
        const struct nlattr *fd =
            find((const uint8_t *)item + NLA_HDRLEN, item->nla_len - NLA_HDRLEN, NBD_SOCK_FD);
        assert_non_null(fd);
        uint32_t v;
        memcpy(&v, (const uint8_t *)fd + NLA_HDRLEN, 4);
        assert_int_equal(v, 17);

        p.index = 3;
        len = nbd_netlink_build_connect(0x1d, 9, &p, buf, sizeof(buf));
        const struct nlattr *ix = find(buf + NLMSG_HDRLEN + GENL_HDRLEN,
                                       len - NLMSG_HDRLEN - GENL_HDRLEN, NBD_ATTR_INDEX);
        assert_non_null(ix);
        assert_int_equal(nbd_netlink_build_connect(0x1d, 9, &p, buf, 40), 0); /* too small */
}

/* A reply of the nbd family with NBD_ATTR_INDEX = index, then an ACK, as the kernel sends them. */
static size_t kernel_answer(uint32_t seq, uint32_t index, int error, bool with_reply, uint8_t *buf)
{
        size_t off = 0;
        if (with_reply) {
                struct nlmsghdr *h = (struct nlmsghdr *)buf;
                memset(buf, 0, 64);
                h->nlmsg_type = 0x1d;
                h->nlmsg_seq = seq;
                struct genlmsghdr *g = (struct genlmsghdr *)(buf + NLMSG_HDRLEN);
                g->cmd = NBD_CMD_CONNECT;
                struct nlattr *a = (struct nlattr *)(buf + NLMSG_HDRLEN + GENL_HDRLEN);
                a->nla_type = NBD_ATTR_INDEX;
                a->nla_len = NLA_HDRLEN + 4;
                memcpy((uint8_t *)a + NLA_HDRLEN, &index, 4);
                h->nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN + NLA_HDRLEN + 4;
                off = NLMSG_ALIGN(h->nlmsg_len);
        }
        struct nlmsghdr *e = (struct nlmsghdr *)(buf + off);
        memset(e, 0, NLMSG_HDRLEN + sizeof(struct nlmsgerr));
        e->nlmsg_type = NLMSG_ERROR;
        e->nlmsg_seq = seq;
        e->nlmsg_len = NLMSG_HDRLEN + sizeof(struct nlmsgerr);
        ((struct nlmsgerr *)(buf + off + NLMSG_HDRLEN))->error = error;
        return off + e->nlmsg_len;
}

static void test_parse_answers(void **state)
{
        (void)state;
        uint8_t buf[256];
        uint32_t v = 0;
        bool acked;
        size_t n = kernel_answer(5, 2, 0, true, buf);
        assert_int_equal(nbd_netlink_parse(buf, n, 5, &v, &acked), 1);
        assert_int_equal(v, 2);
        assert_true(acked);

        /* The reply alone, the ACK in the next read. */
        size_t first = NLMSG_ALIGN(NLMSG_HDRLEN + GENL_HDRLEN + NLA_HDRLEN + 4);
        assert_int_equal(nbd_netlink_parse(buf, first, 5, &v, &acked), 1);
        assert_false(acked);
        assert_int_equal(nbd_netlink_parse(buf + first, n - first, 5, &v, &acked), 0);
        assert_true(acked);

        /* An error: no module, no permission. */
        n = kernel_answer(6, 0, -EPERM, false, buf);
        assert_int_equal(nbd_netlink_parse(buf, n, 6, &v, &acked), -EPERM);
        /* Another request's answer is not ours. */
        n = kernel_answer(7, 9, 0, true, buf);
        v = 0;
        assert_int_equal(nbd_netlink_parse(buf, n, 8, &v, &acked), 0);
        assert_false(acked);
        assert_int_equal(v, 0);
        /* Truncated. */
        assert_int_equal(nbd_netlink_parse(buf, 10, 7, &v, &acked), 0);
        ((struct nlmsghdr *)buf)->nlmsg_len = 4000;
        assert_int_equal(nbd_netlink_parse(buf, n, 7, &v, &acked), -EBADMSG);
}

static void test_getfamily_message(void **state)
{
        (void)state;
        uint8_t buf[128];
        size_t len = nbd_netlink_build_getfamily(1, NBD_GENL_FAMILY_NAME, buf, sizeof(buf));
        const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
        assert_int_equal(h->nlmsg_type, GENL_ID_CTRL);
        const struct nlattr *a = find(buf + NLMSG_HDRLEN + GENL_HDRLEN,
                                      len - NLMSG_HDRLEN - GENL_HDRLEN, CTRL_ATTR_FAMILY_NAME);
        assert_non_null(a);
        assert_string_equal((const char *)a + NLA_HDRLEN, "nbd");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_connect_message),
                cmocka_unit_test(test_parse_answers),
                cmocka_unit_test(test_getfamily_message),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
