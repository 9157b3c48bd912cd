// SPDX-License-Identifier: Apache-2.0
#include "agent/remote/http.h"

#include "api/curl-dl.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "common/macro.h"
#include "common/token-file.h"

/* Answers larger than this are cut: a lease of LEASE_SLABS_MAX slabs fits well within. */
#define ANSWER_MAX (4u << 20)

struct answer {
        char *data;
        size_t size;
        bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
        struct answer *a = ud;
        size_t k = size * n;
        if (a->size + k > ANSWER_MAX) {
                a->too_big = true;
                return 0;
        }
        char *d = realloc(a->data, a->size + k + 1);
        if (!d)
                return 0;
        memcpy(d + a->size, p, k);
        a->size += k;
        d[a->size] = 0;
        a->data = d;
        return k;
}

int remote_http_request(const struct remote_http *h, const char *method, const char *path,
                        struct json_object *body, struct json_object **ret_answer)
{
        struct answer a = {};
        char url[1024];
        size_t n = strlen(h->base_url);
        while (n > 0 && h->base_url[n - 1] == '/')
                n--;
        if (snprintf(url, sizeof(url), "%.*s%s", (int)n, h->base_url, path) >= (int)sizeof(url))
                return -EINVAL;

        /* The bearer token, read at each request: a rotated file is used at once. */
        _cleanup_free_ char *auth = NULL;
        if (h->token_file && *h->token_file) {
                char *token = NULL;
                int r = token_file_read(h->token_file, &token);
                if (r < 0)
                        return r;
                r = asprintf(&auth, "Authorization: Bearer %s", token);
                explicit_bzero(token, strlen(token));
                free(token);
                if (r < 0) {
                        auth = NULL;
                        return -ENOMEM;
                }
        }
        int k = curl_dl_open("memory pools (remote swap through memschedd)");
        if (k < 0)
                return k;
        CURL *c = sym_curl_easy_init();
        if (!c)
                return -ENOMEM;
        struct curl_slist *hdr = sym_curl_slist_append(NULL, "Content-Type: application/json");
        if (hdr && auth) {
                struct curl_slist *t = sym_curl_slist_append(hdr, auth);
                explicit_bzero(auth, strlen(auth));
                if (!t) {
                        sym_curl_slist_free_all(hdr);
                        sym_curl_easy_cleanup(c);
                        return -ENOMEM;
                }
                hdr = t;
        }
        const char *text =
            body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL;
        sym_curl_easy_setopt(c, CURLOPT_URL, url);
        sym_curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        sym_curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        sym_curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms > 0 ? h->timeout_ms : 5000L);
        sym_curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* a thread: no SIGALRM for DNS timeouts */
        sym_curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        sym_curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
        if (text)
                sym_curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
        if (h->ca_file && *h->ca_file)
                sym_curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
        if (h->cert_file && *h->cert_file) {
                sym_curl_easy_setopt(c, CURLOPT_SSLCERT, h->cert_file);
                sym_curl_easy_setopt(c, CURLOPT_SSLKEY, h->key_file);
        }
        CURLcode cr = sym_curl_easy_perform(c);
        long status = 0;
        sym_curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        sym_curl_slist_free_all(hdr);
        sym_curl_easy_cleanup(c);

        if (cr != CURLE_OK && !a.too_big) {
                free(a.data);
                return cr == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EHOSTUNREACH;
        }
        *ret_answer = NULL;
        if (a.data && !a.too_big) {
                struct api_error err = {};
                struct json_object *o = NULL;
                if (api_parse(a.data, a.size, &o, &err) == 0)
                        *ret_answer = o;
        }
        free(a.data);
        return a.too_big ? -EMSGSIZE : (int)status;
}
