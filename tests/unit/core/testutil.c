// SPDX-License-Identifier: Apache-2.0
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

void tu_skip_loudly(const char *fmt, ...)
{
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        fprintf(stdout, "SKIP: %s\n", msg);
        fprintf(stderr, "SKIP: %s\n", msg);
        fflush(NULL);
        exit(TU_SKIP);
}

char *tu_strdupf(const char *fmt, ...)
{
        char *s;
        va_list ap;
        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                fail_msg("out of memory");
        return s;
}

char *tu_fixture(const char *rel)
{
        return tu_strdupf("%s/%s", FIXTURES_DIR, rel);
}

bool tu_exists(const char *path)
{
        return access(path, F_OK) == 0;
}

char *tu_guest_fixture(const char *rel)
{
        char *base = tu_fixture("guest/CAPTURE-INFO");
        if (!tu_exists(base))
                tu_skip_loudly(
                    "the guest fixture capture %s is missing (run tests/vm/capture-fixtures "
                    "to create tests/fixtures/guest)",
                    base);
        free(base);
        return tu_strdupf("%s/guest/%s", FIXTURES_DIR, rel);
}

char *tu_read(const char *path, size_t *ret_len)
{
        FILE *f = fopen(path, "re");
        if (!f)
                fail_msg("cannot open %s: %s", path, strerror(errno));
        size_t cap = 4096, len = 0;
        char *buf = malloc(cap);
        for (;;) {
                if (len + 1 >= cap)
                        buf = realloc(buf, cap *= 2);
                size_t n = fread(buf + len, 1, cap - 1 - len, f);
                if (n == 0)
                        break;
                len += n;
        }
        fclose(f);
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        return buf;
}

char *tu_read_at(const char *dir, const char *name)
{
        char *p = tu_strdupf("%s/%s", dir, name);
        char *s = tu_read(p, NULL);
        free(p);
        return s;
}

uint64_t tu_read_value(const char *dir, const char *name)
{
        char *s = tu_read_at(dir, name);
        uint64_t v;
        if (strncmp(s, "max", 3) == 0)
                v = UINT64_MAX;
        else {
                char *end;
                errno = 0;
                v = strtoull(s, &end, 10);
                if (errno || end == s)
                        fail_msg("%s/%s: not a number: %s", dir, name, s);
        }
        free(s);
        return v;
}

uint64_t tu_read_key(const char *dir, const char *name, const char *key)
{
        char *s = tu_read_at(dir, name);
        size_t kl = strlen(key);
        for (char *line = s; line && *line;) {
                char *nl = strchr(line, '\n');
                if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
                        uint64_t v = strtoull(line + kl + 1, NULL, 10);
                        free(s);
                        return v;
                }
                line = nl ? nl + 1 : NULL;
        }
        fail_msg("%s/%s has no key %s", dir, name, key);
        free(s);
        return 0;
}

void tu_write(const char *path, const char *content, size_t len)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                fail_msg("cannot create %s: %s", path, strerror(errno));
        if (write(fd, content, len) != (ssize_t)len)
                fail_msg("cannot write %s: %s", path, strerror(errno));
        close(fd);
}

char *tu_mkdtemp(const char *tag)
{
        const char *tmp = getenv("TMPDIR");
        char *t = tu_strdupf("%s/memagent-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
        if (!mkdtemp(t))
                fail_msg("mkdtemp %s: %s", t, strerror(errno));
        return t;
}

void tu_copy_tree(const char *src, const char *dst)
{
        char *argv[] = { "cp", "-a", (char *)src, (char *)dst, NULL };
        char *out = NULL, *err = NULL;
        int st = tu_run(argv, &out, &err);
        if (st != 0)
                fail_msg("cp -a %s %s failed (%d): %s", src, dst, st, err);
        free(out);
        free(err);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)ftw;
        if (flag == FTW_DP)
                rmdir(path);
        else
                unlink(path);
        return 0;
}

void tu_rm_rf(const char *path)
{
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void drain(int fd, char **buf, size_t *len, size_t *cap, bool *open_)
{
        if (*len + 4096 > *cap)
                *buf = realloc(*buf, *cap = (*cap + 4096) * 2);
        ssize_t n = read(fd, *buf + *len, *cap - *len - 1);
        if (n <= 0)
                *open_ = false;
        else
                *len += (size_t)n;
        (*buf)[*len] = '\0';
}

int tu_run(char *const argv[], char **ret_out, char **ret_err)
{
        int po[2], pe[2];
        posix_spawn_file_actions_t fa;
        pid_t pid;

        if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
                fail_msg("pipe: %s", strerror(errno));
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, po[1], 1);
        posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
        int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(po[1]);
        close(pe[1]);
        if (r != 0)
                fail_msg("cannot run %s: %s", argv[0], strerror(r));

        char *out = calloc(1, 1), *err = calloc(1, 1);
        size_t ol = 0, oc = 1, el = 0, ec = 1;
        bool oo = true, eo = true;
        while (oo || eo) {
                struct pollfd p[2] = { { oo ? po[0] : -1, POLLIN, 0 },
                                       { eo ? pe[0] : -1, POLLIN, 0 } };
                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        fail_msg("poll: %s", strerror(errno));
                if (p[0].revents)
                        drain(po[0], &out, &ol, &oc, &oo);
                if (p[1].revents)
                        drain(pe[0], &err, &el, &ec, &eo);
        }
        close(po[0]);
        close(pe[0]);
        int st;
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        fail_msg("waitpid: %s", strerror(errno));
        *ret_out = out;
        *ret_err = err;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
