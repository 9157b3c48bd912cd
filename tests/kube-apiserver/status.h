// SPDX-License-Identifier: Apache-2.0
// metav1.Status bodies exactly as kube-apiserver writes them: the constructors of
// staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go, serialised in the field order of the
// Go struct (kind, apiVersion, metadata, status, message, reason, details, code), empty fields
// left out as Go's omitempty does. Every function returns a new json-c reference, NULL on OOM.
#pragma once

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* StatusDetails with only the non-empty fields set (name, group, kind), as omitempty writes it;
 * all three empty gives "details":{} (what NewGenericServerResponse sends). */
struct json_object *status_details(const char *name, const char *group, const char *kind);
/* Appends a StatusCause {"reason","message"[,"field"]} to details.causes. Returns 0 or -ENOMEM. */
int status_details_add_cause(struct json_object *details, const char *reason, const char *message,
                             const char *field);
/* Sets details.retryAfterSeconds (left out when 0). Returns 0 or -ENOMEM. */
int status_details_set_retry_after(struct json_object *details, uint32_t retry_after_sec);

/* A Failure Status; takes ownership of details (may be NULL: no "details" key). */
struct json_object *status_failure(int code, const char *reason, const char *message,
                                   struct json_object *details);
/* {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","code":CODE}: what a
 * create that returns a Status (the eviction subresource) answers. */
struct json_object *status_success(int code);

/* NewNotFound(GroupResource{Resource: resource}, name): pods "x" not found. */
struct json_object *status_not_found(const char *resource, const char *name);
/* NewConflict: Operation cannot be fulfilled on RESOURCE "NAME": WHY. */
struct json_object *status_conflict(const char *resource, const char *name, const char *why);
/* NewGenericServerResponse(code, ...) without a resource: 404 "the server could not find the
 * requested resource", 405 "the server does not allow this method on the requested resource". */
struct json_object *status_generic(int code);
/* NewUnauthorized("Unauthorized"), as the authentication filter answers. */
struct json_object *status_unauthorized(void);
/* NewBadRequest(message). */
struct json_object *status_bad_request(const char *message);
/* NewResourceExpired(message) (410, reason Expired) and the older NewGone (410, reason Gone). */
struct json_object *status_expired(const char *message);
struct json_object *status_gone(const char *message);
/* NewInternalError(err): "Internal error occurred: ERR", details.causes [{"message":ERR}]. */
struct json_object *status_internal_error(const char *err);
/* NewServiceUnavailable(message). */
struct json_object *status_service_unavailable(const char *message);
/* NewRequestEntityTooLargeError(message): "Request entity too large: MESSAGE". */
struct json_object *status_entity_too_large(const char *message);
/* NewTooManyRequests(message, retry_after_sec): details always present (retryAfterSeconds left
 * out when 0), so the eviction code can add its DisruptionBudget cause. */
struct json_object *status_too_many_requests(const char *message, uint32_t retry_after_sec);
/* One field.Error: its Type as the cause reason ("FieldValueRequired"), its field path, and its
 * ErrorBody() ("Required value", "Invalid value: \"\": can have at most 128 characters"). */
struct field_error {
        const char *type;
        const char *field;
        const char *body;
};
/* NewInvalid(GroupKind{group, kind}, name, errs): 422, reason Invalid, one cause per error, and
 * the message KIND[.GROUP] "NAME" is invalid: FIELD: BODY (several: "[F1: B1, F2: B2]"). */
struct json_object *status_invalid_errors(const char *group, const char *kind, const char *name,
                                          const struct field_error *errs, size_t n);
/* The same with one error. */
struct json_object *status_invalid(const char *group, const char *kind, const char *name,
                                   const char *field, const char *cause_reason,
                                   const char *cause_message);

/* The Retry-After a Status asks for (details.retryAfterSeconds), 0 when none: kube-apiserver's
 * response writer turns it into the Retry-After header. */
uint32_t status_retry_after(struct json_object *status);
/* The Status's code. */
int status_code(struct json_object *status);
