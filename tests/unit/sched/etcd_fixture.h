// SPDX-License-Identifier: Apache-2.0
// A real etcd for tests: one or three members on loopback, random free ports, a temporary data
// directory, started and killed by the test itself.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ETCD_FIXTURE_MAX 3

struct etcd_fixture {
        char dir[64];
        size_t n;
        pid_t pid[ETCD_FIXTURE_MAX];
        unsigned client_port[ETCD_FIXTURE_MAX], peer_port[ETCD_FIXTURE_MAX];
        char endpoints[256]; /* every member's client URL, comma-separated */
        char certs[64];      /* with TLS: the directory etcd_fixture_make_certs() filled */
};

/* Whether an etcd binary is there ($ETCD or PATH). When it is not, prints a loud notice and
 * returns false; with CI=true the caller must fail rather than skip. */
bool etcd_fixture_available(void);
bool etcd_fixture_must_run(void);

/* Starts n members as one cluster and waits until it answers. */
int etcd_fixture_start(struct etcd_fixture *f, size_t n);
/* The same, serving clients over TLS only to clients with a certificate from certs_dir's CA. */
int etcd_fixture_start_tls(struct etcd_fixture *f, size_t n, const char *certs_dir);
/* Makes a CA and, signed by it, a server certificate for 127.0.0.1 and a client certificate, in
 * dir: ca.crt, server.{crt,key}, client.{crt,key}. -ENOENT without the openssl command. */
int etcd_fixture_make_certs(const char *dir);
/* Kills member i (SIGKILL) and waits for it. */
void etcd_fixture_kill(struct etcd_fixture *f, size_t i);
/* Starts member i again on its data directory and ports; waits until it answers. */
int etcd_fixture_restart(struct etcd_fixture *f, size_t i);
/* The client URL of member i. */
void etcd_fixture_url(const struct etcd_fixture *f, size_t i, char *buf, size_t size);
/* Kills every member and removes the data directory. */
void etcd_fixture_stop(struct etcd_fixture *f);
