// SPDX-License-Identifier: Apache-2.0
// memschedd's configuration (scheduler/daemon-config): the table's defaults are the ones the
// cluster and the HTTP server had before the table (SCHED_CONFIG_DEFAULTS, 0.0.0.0:8787, ...),
// every flag memschedd ever took keeps its meaning and bounds, a YAML file's errors name
// file:line:key, --print-config reads back through --config, and --help lists every key.
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/macro.h"
#include "config_files.h"
#include "scheduler/daemon-config.h"

/* The table's index of key, as config_sources counts it. */
static size_t entry_index(const char *key)
{
        for (size_t i = 0; i < memschedd_config_table.n_entries; i++)
                if (strcmp(memschedd_config_table.entries[i].key, key) == 0)
                        return i;
        fail_msg("no key %s in the table", key);
        return 0;
}

static char err[CONFIG_ERR_MAX];

/* memschedd_config_load() with the default path fs->missing and the NULL-terminated arguments. */
static int load(const struct files *fs, struct memschedd_config *c, struct config_args *args, ...)
{
        char *argv[40] = { (char *)"memschedd" };
        int argc = 1;
        va_list ap;
        va_start(ap, args);
        for (char *a; (a = va_arg(ap, char *));)
                argv[argc++] = a;
        va_end(ap);
        err[0] = '\0';
        return memschedd_config_load(argc, argv, fs->missing, c, args, err, sizeof(err));
}

static void test_defaults(void **state)
{
        (void)state;
        struct files fs;
        struct memschedd_config c;
        struct config_args args;
        struct sched_config sc, want = SCHED_CONFIG_DEFAULTS;
        struct server_config srv;
        files_init(&fs);

        assert_int_equal(load(&fs, &c, &args, NULL), 0);
        assert_true(args.file_missing);
        assert_false(args.config_path_required);
        assert_false(args.help || args.version || args.print_config || args.action);
        assert_string_equal(c.state_file, "/var/lib/memschedd/state.db");
        assert_string_equal(c.port_file, "");
        assert_int_equal(c.log_level, LOG_INFO);

        memschedd_config_sched(&c, &sc);
        assert_int_equal(sc.stale_after_usec, want.stale_after_usec);
        assert_int_equal(sc.assume_ttl_usec, want.assume_ttl_usec);
        assert_int_equal(sc.reservation_ttl_usec, want.reservation_ttl_usec);
        assert_int_equal(sc.sustained_pressure_ms, want.sustained_pressure_ms);
        assert_int_equal(sc.max_migrations_per_plan, want.max_migrations_per_plan);
        assert_int_equal(sc.admit_unknown_nodes, want.admit_unknown_nodes);
        /* Exact: 10/100 is the double nearest 0.1, as the literal is. */
        assert_true(sc.relief_target_ratio == want.relief_target_ratio);
        assert_true(sc.weight_fragmentation == want.weight_fragmentation);
        assert_true(sc.weight_headroom == want.weight_headroom);
        assert_true(sc.weight_pressure == want.weight_pressure);

        /* The HTTP defaults: port 8787, 4 threads, 64Mi bodies, 10 s timeout, 1024
         * connections; without a certificate plain HTTP on loopback only, said at start. */
        assert_int_equal(memschedd_config_server(&c, &srv), 0);
        const struct sockaddr_in *a = (const struct sockaddr_in *)&srv.addr;
        assert_int_equal(a->sin_family, AF_INET);
        assert_int_equal(ntohs(a->sin_port), 8787);
        assert_int_equal(a->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
        assert_true(srv.loopback_by_default);
        /* With insecure, the default is every IPv4 address, as a Service needs. */
        c.insecure = true;
        assert_int_equal(memschedd_config_server(&c, &srv), 0);
        assert_int_equal(a->sin_addr.s_addr, htonl(INADDR_ANY));
        assert_false(srv.loopback_by_default);
        c.insecure = false;
        assert_int_equal(srv.addr_len, sizeof(struct sockaddr_in));
        assert_int_equal(srv.threads, 4);
        assert_int_equal(srv.max_body_bytes, 64 << 20);
        assert_int_equal(srv.client_timeout_sec, 10);
        assert_int_equal(srv.max_connections, 1024);

        memschedd_config_free(&c);
        config_args_done(&args);
        files_done(&fs);
}

/* Every flag of the getopt parser memschedd had, in both spellings, with its old meaning. */
static void test_old_flags(void **state)
{
        (void)state;
        struct files fs;
        struct memschedd_config c;
        struct config_args args;
        struct sched_config sc;
        struct server_config srv;
        files_init(&fs);

        assert_int_equal(load(&fs, &c, &args, "--listen", "[::1]:9000", "--state-file", "st.db",
                              "--port-file=/run/port", "--threads", "2", "--max-body-bytes", "64Ki",
                              "--client-timeout-sec", "2", "--max-connections=5",
                              "--stale-after-sec", "2", "--assume-ttl-sec", "0",
                              "--reservation-ttl-sec", "7", "--sustained-pressure-sec", "30",
                              "--admit-unknown-nodes", "--log-level", "warning", NULL),
                         0);
        assert_string_equal(c.state_file, "st.db"); /* relative paths, as before */
        assert_string_equal(c.port_file, "/run/port");
        assert_int_equal(c.log_level, LOG_WARNING);
        memschedd_config_sched(&c, &sc);
        assert_int_equal(sc.stale_after_usec, 2000000);
        assert_int_equal(sc.assume_ttl_usec, 0);
        assert_int_equal(sc.reservation_ttl_usec, 7000000);
        assert_int_equal(sc.sustained_pressure_ms, 30000);
        assert_true(sc.admit_unknown_nodes);
        assert_int_equal(memschedd_config_server(&c, &srv), 0);
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&srv.addr;
        assert_int_equal(a6->sin6_family, AF_INET6);
        assert_int_equal(ntohs(a6->sin6_port), 9000);
        assert_true(IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr));
        assert_int_equal(srv.threads, 2);
        assert_int_equal(srv.max_body_bytes, 64 << 10);
        assert_int_equal(srv.client_timeout_sec, 2);
        assert_int_equal(srv.max_connections, 5);
        memschedd_config_free(&c);
        config_args_done(&args);

        /* --list-routes is an action: nothing is read, the caller prints and exits. */
        files_write(&fs, "threads: [not, a, number]\n");
        assert_int_equal(load(&fs, &c, &args, "--config", fs.path, "--list-routes", NULL), 0);
        assert_non_null(args.action);
        assert_string_equal(args.action, MEMSCHEDD_ACTION_LIST_ROUTES);
        memschedd_config_free(&c);
        config_args_done(&args);

        /* The old bounds, each refused with one line naming the flag. */
        static const struct {
                const char *flag, *value, *want;
        } bad[] = {
                { "--threads", "0", "--threads: \"0\" is out of range: must be between 1 and 256" },
                { "--threads", "257",
                  "--threads: \"257\" is out of range: must be between 1 and "
                  "256" },
                { "--max-body-bytes", "1023",
                  "--max-body-bytes: \"1023\" is out of range: must "
                  "be between 1Ki and 4Gi" },
                { "--max-body-bytes", "5Gi",
                  "--max-body-bytes: \"5Gi\" is out of range: must be "
                  "between 1Ki and 4Gi" },
                { "--client-timeout-sec", "0",
                  "--client-timeout-sec: \"0\" is out of range: must "
                  "be between 1 and 3600" },
                { "--max-connections", "65537",
                  "--max-connections: \"65537\" is out of range: "
                  "must be between 1 and 65536" },
                { "--stale-after-sec", "0",
                  "--stale-after-sec: \"0\" is out of range: must be "
                  "between 1 and 86400" },
                { "--assume-ttl-sec", "-1",
                  "--assume-ttl-sec: \"-1\" is out of range: must be "
                  "between 0 and 86400" },
                { "--reservation-ttl-sec", "604801",
                  "--reservation-ttl-sec: \"604801\" is out of "
                  "range: must be between 1 and 604800" },
                { "--sustained-pressure-sec", "1m",
                  "--sustained-pressure-sec: \"1m\" is not an "
                  "integer" },
                { "--listen", "localhost:80",
                  "--listen: \"localhost:80\": is not ADDR:PORT with a "
                  "numeric address (like 0.0.0.0:8787 or [::]:8787)" },
                { "--listen", "10.0.0.1",
                  "--listen: \"10.0.0.1\": is not ADDR:PORT with a numeric "
                  "address (like 0.0.0.0:8787 or [::]:8787)" },
                { "--listen", "[::1:80",
                  "--listen: \"[::1:80\": is not ADDR:PORT with a numeric "
                  "address (like 0.0.0.0:8787 or [::]:8787)" },
                { "--listen", "0.0.0.0:65536",
                  "--listen: \"0.0.0.0:65536\": is not ADDR:PORT "
                  "with a numeric address (like 0.0.0.0:8787 or "
                  "[::]:8787)" },
                { "--log-level", "loud",
                  "--log-level: \"loud\" is not one of error, warning, "
                  "notice, info, debug" },
                { "--state-file", "", "--state-file: \"\": must not be empty" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = load(&fs, &c, &args, bad[i].flag, bad[i].value, NULL);
                if (r != -EINVAL || !streq(err, bad[i].want))
                        fail_msg("%s %s: got %d \"%s\", want \"%s\"", bad[i].flag, bad[i].value, r,
                                 err, bad[i].want);
        }
        files_done(&fs);
}

static void test_usage_errors(void **state)
{
        (void)state;
        struct files fs;
        struct memschedd_config c;
        struct config_args args;
        files_init(&fs);

        /* An unknown flag: one line, with the likely one. */
        assert_int_equal(load(&fs, &c, &args, "--stale-after-secs", "3", NULL), -ENOENT);
        assert_string_equal(err,
                            "--stale-after-secs: unknown option (did you mean --stale-after-sec?)");
        assert_null(strchr(err, '\n'));
        assert_int_equal(load(&fs, &c, &args, "--frobnicate", NULL), -ENOENT);
        assert_string_equal(err, "--frobnicate: unknown option");
        assert_int_equal(load(&fs, &c, &args, "serve", NULL), -EINVAL);
        assert_string_equal(err, "unexpected argument \"serve\": memschedd takes only options (see "
                                 "--help)");
        assert_int_equal(load(&fs, &c, &args, "--list-routes=yes", NULL), -EINVAL);
        assert_string_equal(err, "--list-routes takes no value");
        assert_int_equal(load(&fs, &c, &args, "--config", fs.missing, NULL), -ENOENT);
        assert_non_null(strstr(err, "missing.yaml: no such file"));

        /* The weights are one score: they must add up to 100%. */
        assert_int_equal(load(&fs, &c, &args, "--weight-pressure=40%", NULL), -EINVAL);
        assert_string_equal(err, "invalid configuration: keys \"weightFragmentation\" (40%), "
                                 "\"weightHeadroom\" (30%) and \"weightPressure\" (40%) must add "
                                 "up to 100%");
        assert_int_equal(
            load(&fs, &c, &args, "--weight-pressure=40%", "--weight-headroom=20", NULL), 0);
        memschedd_config_free(&c);
        config_args_done(&args);
        files_done(&fs);
}

static void test_file(void **state)
{
        (void)state;
        struct files fs;
        struct memschedd_config c;
        struct config_args args;
        struct sched_config sc;
        char want[256];
        files_init(&fs);

        files_write(&fs, "# memschedd\n"
                         "listen: 127.0.0.1:0\n"
                         "staleAfterSec: 5\n"
                         "threads: 8\n"
                         "admitUnknownNodes: true\n");
        assert_int_equal(load(&fs, &c, &args, "--config", fs.path, "--threads=3", NULL), 0);
        assert_true(args.config_path_required);
        assert_false(args.file_missing);
        assert_string_equal(c.listen, "127.0.0.1:0");
        assert_int_equal(c.threads, 3); /* flags win over the file */
        assert_true(c.sources.of[entry_index("threads")] == CONFIG_SOURCE_FLAG);
        memschedd_config_sched(&c, &sc);
        assert_int_equal(sc.stale_after_usec, 5000000);
        assert_true(sc.admit_unknown_nodes);
        memschedd_config_free(&c);
        config_args_done(&args);

        /* A bad key names the file, the line and the key; so does a bad value. */
        files_write(&fs, "listen: 127.0.0.1:0\n"
                         "\n"
                         "staleAfterSecs: 5\n");
        assert_int_equal(load(&fs, &c, &args, "--config", fs.path, NULL), -EINVAL);
        snprintf(want, sizeof(want),
                 "%s:3: key \"staleAfterSecs\": unknown key (did you mean \"staleAfterSec\"?)",
                 fs.path);
        assert_string_equal(err, want);
        files_write(&fs, "threads: 4\nlisten: \"localhost\"\n");
        assert_int_equal(load(&fs, &c, &args, "--config", fs.path, NULL), -EINVAL);
        snprintf(want, sizeof(want),
                 "%s:2: key \"listen\": \"localhost\": is not ADDR:PORT with a numeric address "
                 "(like 0.0.0.0:8787 or [::]:8787)",
                 fs.path);
        assert_string_equal(err, want);
        /* The flag's spelling is not a key: the message says which key is meant. */
        files_write(&fs, "stale-after-sec: 5\n");
        assert_int_equal(load(&fs, &c, &args, "--config", fs.path, NULL), -EINVAL);
        snprintf(want, sizeof(want),
                 "%s:1: key \"stale-after-sec\": unknown key (did you mean \"staleAfterSec\"?)",
                 fs.path);
        assert_string_equal(err, want);
        files_done(&fs);
}

/* --print-config's text, read back with --config, is the same configuration. */
static void test_print_config_round_trip(void **state)
{
        (void)state;
        struct files fs;
        struct memschedd_config c, d;
        struct config_args args, args2;
        char *text = NULL;
        size_t len = 0;
        files_init(&fs);

        assert_int_equal(load(&fs, &c, &args, "--print-config", "--listen=[::]:0", "--threads=7",
                              "--max-body-bytes=1536Ki", "--port-file", "/tmp/p q\"r",
                              "--admit-unknown-nodes", "--relief-target=12.5%",
                              "--weight-fragmentation=50", "--weight-headroom=25",
                              "--weight-pressure=25", "--log-level=debug", NULL),
                         0);
        assert_true(args.print_config);
        FILE *f = open_memstream(&text, &len);
        assert_non_null(f);
        assert_int_equal(memschedd_config_print(&c, &args, f), 0);
        fclose(f);
        assert_non_null(strstr(text, "\nthreads: 7\n"));
        assert_non_null(strstr(text, "\nmaxBodyBytes: 1536Ki\n"));
        assert_non_null(strstr(text, "\nreliefTarget: 12.5%\n"));
        assert_non_null(strstr(text, "Set by --listen.\nlisten: \"[::]:0\"\n"));
        files_write(&fs, text);

        assert_int_equal(load(&fs, &d, &args2, "--config", fs.path, NULL), 0);
        assert_true(config_equal(&memschedd_config_table, &c, &d));
        assert_string_equal(d.port_file, "/tmp/p q\"r");
        assert_int_equal(d.log_level, LOG_DEBUG);
        /* and differs from the defaults, so the comparison above can fail */
        struct memschedd_config z = { 0 };
        assert_int_equal(config_set_defaults(&memschedd_config_table, &z, NULL, err, sizeof(err)),
                         0);
        assert_false(config_equal(&memschedd_config_table, &z, &d));
        memschedd_config_free(&z);
        memschedd_config_free(&c);
        memschedd_config_free(&d);
        config_args_done(&args);
        config_args_done(&args2);
        free(text);
        files_done(&fs);
}

static void test_help(void **state)
{
        (void)state;
        char *text = NULL, flag[128], line[160], key[160];
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        assert_non_null(f);
        memschedd_config_print_help("/etc/memagent/memschedd.yaml", f);
        fclose(f);

        assert_non_null(strstr(text, "Usage: memschedd [OPTIONS]\n"));
        assert_non_null(strstr(text, "  --config PATH\n"));
        assert_non_null(strstr(text, "  --print-config\n"));
        assert_non_null(strstr(text, "  --list-routes\n"));
        /* Every key, as its flag on a line of its own and as its YAML key (in the text with
         * its wrapping undone). */
        char *flat = strdup(text), *o = flat;
        assert_non_null(flat);
        for (const char *p = text; *p; p++) {
                if (*p == '\n' && p[1] == ' ' && p[2] == ' ' && p[3] == ' ') {
                        *o++ = ' ';
                        while (p[1] == ' ')
                                p++;
                } else
                        *o++ = *p;
        }
        *o = '\0';
        for (size_t i = 0; i < memschedd_config_table.n_entries; i++) {
                const struct config_entry *e = &memschedd_config_table.entries[i];
                snprintf(line, sizeof(line), "\n  --%s",
                         config_key_to_flag(e->key, flag, sizeof(flag)));
                snprintf(key, sizeof(key), "YAML key %s", e->key);
                if (!strstr(text, line) || !strstr(flat, key))
                        fail_msg("--help lacks %s (%s)", line + 1, key);
        }
        /* The old flags' help lines, with their metavars. */
        assert_non_null(strstr(text, "\n  --listen ADDR:PORT\n"));
        assert_non_null(strstr(text, "\n  --state-file PATH\n"));
        assert_non_null(strstr(text, "\n  --max-body-bytes QUANTITY\n"));
        assert_non_null(strstr(text, "\n  --admit-unknown-nodes[=BOOL]\n"));
        assert_non_null(strstr(text, "\n  --log-level error|warning|notice|info|debug\n"));
        free(flat);
        free(text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_old_flags),
                cmocka_unit_test(test_usage_errors),
                cmocka_unit_test(test_file),
                cmocka_unit_test(test_print_config_round_trip),
                cmocka_unit_test(test_help),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
