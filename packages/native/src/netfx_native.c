/*
 * @netfx/native: the few socket calls Node and Bun lack, on plain Node-API.
 *
 * Every socket call is non-blocking and returns a number: >= 0 on success,
 * -errno on failure (JS maps errno to its name). Only argument mistakes
 * throw. Readiness is one-shot: `arm(id, events)` asks for one callback
 * through the dispatcher installed with `init`; the caller re-arms.
 *   - Node: a libuv uv_poll_t per watcher (on the loop from napi_get_uv_event_loop).
 *   - Bun: uv_poll_init aborts Bun, so one epoll thread (EPOLLONESHOT)
 *     signals JS through a napi_threadsafe_function. Never touches uv_poll.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

#include <node_api.h>
#include <uv.h>

#define CHECK(call)                                     \
  do {                                                  \
    if ((call) != napi_ok) {                            \
      napi_throw_error(env, NULL, "napi call failed: " #call); \
      return NULL;                                      \
    }                                                   \
  } while (0)

#define EV_READ 1
#define EV_WRITE 2
#define EV_ERROR 4

/* ---------- small helpers ---------- */

static napi_value num(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

static int get_int(napi_env env, napi_value v, int32_t* out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

static napi_value throw_type(napi_env env, const char* msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

/* Bytes of a Buffer or any TypedArray (Uint8Array). */
static int get_bytes(napi_env env, napi_value v, void** data, size_t* size) {
  bool is;
  if (napi_is_buffer(env, v, &is) == napi_ok && is) return napi_get_buffer_info(env, v, data, size) == napi_ok;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    void* base;
    if (napi_get_typedarray_info(env, v, &type, &length, &base, &ab, &offset) != napi_ok) return 0;
    if (type != napi_uint8_array && type != napi_int8_array && type != napi_uint8_clamped_array) return 0;
    *data = base;
    *size = length;
    return 1;
  }
  return 0;
}

/* Builds a sockaddr_un from (name: string, abstract: boolean). */
static int make_addr(napi_env env, napi_value name, napi_value abstract, struct sockaddr_un* sa, socklen_t* len) {
  memset(sa, 0, sizeof(*sa));
  sa->sun_family = AF_UNIX;
  bool is_abstract = false;
  napi_get_value_bool(env, abstract, &is_abstract);
  size_t n = 0;
  char* dst = sa->sun_path + (is_abstract ? 1 : 0);
  size_t cap = sizeof(sa->sun_path) - 1; /* room for the NUL (path) or the leading NUL (abstract) */
  if (napi_get_value_string_utf8(env, name, NULL, 0, &n) != napi_ok) return 0;
  if (n > cap) return -1;
  napi_get_value_string_utf8(env, name, dst, cap + 1, &n);
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (is_abstract ? 1 + n : n + 1));
  return 1;
}

/* { path: string, abstract: boolean } (path "" for unnamed). */
static napi_value addr_value(napi_env env, struct sockaddr_un* sa, socklen_t len) {
  napi_value obj, path, abs;
  napi_create_object(env, &obj);
  size_t off = offsetof(struct sockaddr_un, sun_path);
  bool is_abstract = false;
  size_t n = 0;
  const char* start = sa->sun_path;
  if (len > off) {
    n = len - off;
    if (sa->sun_path[0] == '\0') {
      is_abstract = n > 0;
      start = sa->sun_path + 1;
      n = n > 0 ? n - 1 : 0;
    } else {
      n = strnlen(sa->sun_path, n);
    }
  }
  napi_create_string_utf8(env, start, n, &path);
  napi_get_boolean(env, is_abstract, &abs);
  napi_set_named_property(env, obj, "path", path);
  napi_set_named_property(env, obj, "abstract", abs);
  return obj;
}

/* ---------- sockets ---------- */

static napi_value js_socket(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t type;
  bool nonblock = true;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_int(env, argv[0], &type)) return throw_type(env, "socket(type, nonblock)");
  if (argc >= 2) napi_get_value_bool(env, argv[1], &nonblock);
  /* A blocking socket still gets non-blocking calls (MSG_DONTWAIT); the
     blocking mode is for sendtoWait on a worker thread. */
  int fd = socket(AF_UNIX, type | (nonblock ? SOCK_NONBLOCK : 0) | SOCK_CLOEXEC, 0);
  return num(env, fd < 0 ? -errno : fd);
}

/* An IP socket (family 4 or 6), non-blocking, close-on-exec: for options
   the runtimes cannot set before bind (SO_REUSEPORT on Node < 22.12). */
static napi_value js_socket_ip(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t family, type;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !get_int(env, argv[0], &family) || !get_int(env, argv[1], &type))
    return throw_type(env, "socketIp(family, type)");
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return num(env, fd < 0 ? -errno : fd);
}

/* bind(fd, host, port, scopeId) for an IP socket; host is numeric. */
static napi_value js_bind_ip(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t fd, port, scope = 0;
  char host[64];
  size_t n = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || !get_int(env, argv[0], &fd) || !get_int(env, argv[2], &port))
    return throw_type(env, "bindIp(fd, host, port, scopeId)");
  if (argc >= 4) get_int(env, argv[3], &scope);
  if (napi_get_value_string_utf8(env, argv[1], host, sizeof(host), &n) != napi_ok) return throw_type(env, "host must be a string");
  if (port < 0 || port > 65535) return num(env, -EINVAL);
  if (strchr(host, ':') != NULL) {
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons((uint16_t)port);
    sa.sin6_scope_id = (uint32_t)scope;
    char* pct = strchr(host, '%');
    if (pct != NULL) *pct = '\0';
    if (inet_pton(AF_INET6, host, &sa.sin6_addr) != 1) return num(env, -EINVAL);
    return num(env, bind(fd, (struct sockaddr*)&sa, sizeof(sa)) < 0 ? -errno : 0);
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return num(env, -EINVAL);
  return num(env, bind(fd, (struct sockaddr*)&sa, sizeof(sa)) < 0 ? -errno : 0);
}

/* ---------- any-family addresses (the low-level socket layer) ----------
   JS shape: { family: 4, host, port } | { family: 6, host, port, flowInfo, scopeId }
           | { family: 1, path, abstract } (path "" = unnamed) */

static int get_prop_int(napi_env env, napi_value obj, const char* name, int32_t* out) {
  napi_value v;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return 0;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_number) return 0;
  return get_int(env, v, out);
}

/* 1 ok, 0 bad shape, -1 bad value (EINVAL), -2 name too long */
static int any_addr(napi_env env, napi_value obj, struct sockaddr_storage* ss, socklen_t* len) {
  int32_t family;
  memset(ss, 0, sizeof(*ss));
  if (!get_prop_int(env, obj, "family", &family)) return 0;
  if (family == 1) {
    napi_value path, abstract;
    if (napi_get_named_property(env, obj, "path", &path) != napi_ok) return 0;
    if (napi_get_named_property(env, obj, "abstract", &abstract) != napi_ok) return 0;
    int ok = make_addr(env, path, abstract, (struct sockaddr_un*)ss, len);
    return ok == 0 ? 0 : ok < 0 ? -2 : 1;
  }
  napi_value hv;
  char host[64];
  size_t n = 0;
  int32_t port;
  if (napi_get_named_property(env, obj, "host", &hv) != napi_ok) return 0;
  if (napi_get_value_string_utf8(env, hv, host, sizeof(host), &n) != napi_ok) return 0;
  if (!get_prop_int(env, obj, "port", &port)) return 0;
  if (port < 0 || port > 65535) return -1;
  if (family == 6) {
    struct sockaddr_in6* sa = (struct sockaddr_in6*)ss;
    int32_t scope = 0, flow = 0;
    get_prop_int(env, obj, "scopeId", &scope);
    get_prop_int(env, obj, "flowInfo", &flow);
    char* pct = strchr(host, '%');
    if (pct != NULL) *pct = '\0';
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons((uint16_t)port);
    sa->sin6_scope_id = (uint32_t)scope;
    sa->sin6_flowinfo = htonl((uint32_t)flow);
    if (inet_pton(AF_INET6, host, &sa->sin6_addr) != 1) return -1;
    *len = sizeof(*sa);
    return 1;
  }
  if (family == 4) {
    struct sockaddr_in* sa = (struct sockaddr_in*)ss;
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) return -1;
    *len = sizeof(*sa);
    return 1;
  }
  return -1;
}

static napi_value any_addr_value(napi_env env, struct sockaddr_storage* ss, socklen_t len) {
  napi_value obj;
  napi_create_object(env, &obj);
  if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6) {
    char host[INET6_ADDRSTRLEN];
    napi_value h;
    if (ss->ss_family == AF_INET) {
      struct sockaddr_in* sa = (struct sockaddr_in*)ss;
      inet_ntop(AF_INET, &sa->sin_addr, host, sizeof(host));
      napi_set_named_property(env, obj, "family", num(env, 4));
      napi_set_named_property(env, obj, "port", num(env, ntohs(sa->sin_port)));
    } else {
      struct sockaddr_in6* sa = (struct sockaddr_in6*)ss;
      inet_ntop(AF_INET6, &sa->sin6_addr, host, sizeof(host));
      napi_set_named_property(env, obj, "family", num(env, 6));
      napi_set_named_property(env, obj, "port", num(env, ntohs(sa->sin6_port)));
      napi_set_named_property(env, obj, "scopeId", num(env, sa->sin6_scope_id));
      napi_set_named_property(env, obj, "flowInfo", num(env, ntohl(sa->sin6_flowinfo)));
    }
    napi_create_string_utf8(env, host, NAPI_AUTO_LENGTH, &h);
    napi_set_named_property(env, obj, "host", h);
    return obj;
  }
  if (ss->ss_family == AF_UNIX || len <= sizeof(sa_family_t)) {
    napi_value u = addr_value(env, (struct sockaddr_un*)ss, len);
    napi_set_named_property(env, u, "family", num(env, 1));
    return u;
  }
  napi_set_named_property(env, obj, "family", num(env, ss->ss_family));
  return obj;
}

/* getsockname/getpeername; `any` selects the any-family address shape */
static napi_value name_common(napi_env env, napi_callback_info info, int peer, int any) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_int(env, argv[0], &fd)) return throw_type(env, "getsockname(fd)");
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  memset(&ss, 0, sizeof(ss));
  int r = peer ? getpeername(fd, (struct sockaddr*)&ss, &len) : getsockname(fd, (struct sockaddr*)&ss, &len);
  if (r < 0) return num(env, -errno);
  return any ? any_addr_value(env, &ss, len) : addr_value(env, (struct sockaddr_un*)&ss, len);
}

/* send(2) or sendto(2), never blocking, no SIGPIPE: bytes or -errno */
static napi_value send_common(napi_env env, int fd, void* data, size_t size, struct sockaddr* sa, socklen_t len) {
  ssize_t r = sa == NULL ? send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT)
                         : sendto(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT, sa, len);
  return num(env, r < 0 ? -errno : (double)r);
}

/* recvfrom(2) into a fresh Buffer: { data, address, truncated } | -errno;
   `any` gives the any-family address shape (null when the system reports none) */
static napi_value recv_common(napi_env env, int fd, int32_t max, int flags, int any) {
  char* buf = malloc((size_t)max);
  if (buf == NULL) return num(env, -ENOMEM);
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  memset(&ss, 0, sizeof(ss));
  ssize_t r = recvfrom(fd, buf, (size_t)max, flags, (struct sockaddr*)&ss, &len);
  if (r < 0) {
    int e = errno;
    free(buf);
    return num(env, -e);
  }
  size_t got = (size_t)r > (size_t)max ? (size_t)max : (size_t)r;
  napi_value obj, data, trunc, address;
  napi_create_object(env, &obj);
  void* out;
  napi_create_buffer_copy(env, got, buf, &out, &data);
  free(buf);
  napi_get_boolean(env, (size_t)r > (size_t)max, &trunc);
  if (!any) address = addr_value(env, (struct sockaddr_un*)&ss, len);
  else if (len == 0) napi_get_null(env, &address);
  else address = any_addr_value(env, &ss, len);
  napi_set_named_property(env, obj, "data", data);
  napi_set_named_property(env, obj, "address", address);
  napi_set_named_property(env, obj, "truncated", trunc);
  return obj;
}

/* socketAny(family 4|6|1, type) -> fd | -errno (non-blocking, close-on-exec) */
static napi_value js_socket_any(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t family, type;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !get_int(env, argv[0], &family) || !get_int(env, argv[1], &type))
    return throw_type(env, "socketAny(family, type)");
  int af = family == 6 ? AF_INET6 : family == 4 ? AF_INET : family == 1 ? AF_UNIX : -1;
  if (af < 0) return num(env, -EAFNOSUPPORT);
  int fd = socket(af, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return num(env, fd < 0 ? -errno : fd);
}

static napi_value js_addr_call(napi_env env, napi_callback_info info, int which) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !get_int(env, argv[0], &fd)) return throw_type(env, "bindAny/connectAny(fd, address)");
  struct sockaddr_storage ss;
  socklen_t len = 0;
  int ok = any_addr(env, argv[1], &ss, &len);
  if (ok == 0) return throw_type(env, "address must be { family, host, port } or { family: 1, path, abstract }");
  if (ok == -1) return num(env, -EINVAL);
  if (ok == -2) return num(env, -ENAMETOOLONG);
  int r = which ? connect(fd, (struct sockaddr*)&ss, len) : bind(fd, (struct sockaddr*)&ss, len);
  return num(env, r < 0 ? -errno : 0);
}
static napi_value js_bind_any(napi_env env, napi_callback_info info) { return js_addr_call(env, info, 0); }
static napi_value js_connect_any(napi_env env, napi_callback_info info) { return js_addr_call(env, info, 1); }

static napi_value js_getsockname_any(napi_env env, napi_callback_info info) { return name_common(env, info, 0, 1); }
static napi_value js_getpeername_any(napi_env env, napi_callback_info info) { return name_common(env, info, 1, 1); }

/* sendtoAny(fd, data, address|null) -> bytes | -errno */
static napi_value js_sendto_any(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || !get_int(env, argv[0], &fd)) return throw_type(env, "sendtoAny(fd, data, address)");
  void* data;
  size_t size;
  if (!get_bytes(env, argv[1], &data, &size)) return throw_type(env, "data must be a Uint8Array");
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  if (t == napi_null || t == napi_undefined) return send_common(env, fd, data, size, NULL, 0);
  struct sockaddr_storage ss;
  socklen_t len = 0;
  int ok = any_addr(env, argv[2], &ss, &len);
  if (ok == 0) return throw_type(env, "bad address");
  if (ok < 0) return num(env, ok == -2 ? -ENAMETOOLONG : -EINVAL);
  return send_common(env, fd, data, size, (struct sockaddr*)&ss, len);
}

/* recvfromAny(fd, maxBytes, peek) -> { data, address, truncated } | -errno */
static napi_value js_recvfrom_any(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd, max;
  bool peek = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &max) || max < 1)
    return throw_type(env, "recvfromAny(fd, maxBytes, peek)");
  if (argc >= 3) napi_get_value_bool(env, argv[2], &peek);
  int type = 0;
  socklen_t tl = sizeof(type);
  getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl);
  /* MSG_TRUNC reports a datagram's real length; on a stream it would discard bytes */
  int flags = MSG_DONTWAIT | (peek ? MSG_PEEK : 0) | (type == SOCK_STREAM ? 0 : MSG_TRUNC);
  return recv_common(env, fd, max, flags, 1);
}

/* pollReadable(fd) -> 1 readable (or hung up / error), 0 not, -errno */
static napi_value js_poll_readable(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_int(env, argv[0], &fd)) return throw_type(env, "pollReadable(fd)");
  struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
  int r = poll(&p, 1, 0);
  if (r < 0) return num(env, -errno);
  if (p.revents & POLLNVAL) return num(env, -EBADF);
  return num(env, r > 0 ? 1 : 0);
}

static napi_value js_socketpair(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t type;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_int(env, argv[0], &type)) return throw_type(env, "socketpair(type)");
  int sv[2];
  if (socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) return num(env, -errno);
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, num(env, sv[0]));
  napi_set_element(env, arr, 1, num(env, sv[1]));
  return arr;
}

static napi_value js_bind_or_connect(napi_env env, napi_callback_info info, int do_connect) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || !get_int(env, argv[0], &fd)) return throw_type(env, "bind/connect(fd, name, abstract)");
  struct sockaddr_un sa;
  socklen_t len;
  int ok = make_addr(env, argv[1], argv[2], &sa, &len);
  if (ok == 0) return throw_type(env, "name must be a string");
  if (ok < 0) return num(env, -ENAMETOOLONG);
  int r = do_connect ? connect(fd, (struct sockaddr*)&sa, len) : bind(fd, (struct sockaddr*)&sa, len);
  return num(env, r < 0 ? -errno : 0);
}

static napi_value js_bind(napi_env env, napi_callback_info info) { return js_bind_or_connect(env, info, 0); }
static napi_value js_connect(napi_env env, napi_callback_info info) { return js_bind_or_connect(env, info, 1); }

static napi_value js_listen(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd, backlog;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &backlog)) return throw_type(env, "listen(fd, backlog)");
  return num(env, listen(fd, backlog) < 0 ? -errno : 0);
}

static napi_value js_accept(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_int(env, argv[0], &fd)) return throw_type(env, "accept(fd)");
  int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  return num(env, c < 0 ? -errno : c);
}

static napi_value js_name(napi_env env, napi_callback_info info, int peer) { return name_common(env, info, peer, 0); }

static napi_value js_getsockname(napi_env env, napi_callback_info info) { return js_name(env, info, 0); }
static napi_value js_getpeername(napi_env env, napi_callback_info info) { return js_name(env, info, 1); }

/* sendto(fd, data, name|null, abstract) -> bytes | -errno */
static napi_value js_sendto(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4 || !get_int(env, argv[0], &fd)) return throw_type(env, "sendto(fd, data, name, abstract)");
  void* data;
  size_t size;
  if (!get_bytes(env, argv[1], &data, &size)) return throw_type(env, "data must be a Uint8Array");
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  if (t == napi_null || t == napi_undefined) return send_common(env, fd, data, size, NULL, 0);
  struct sockaddr_un sa;
  socklen_t len;
  int ok = make_addr(env, argv[2], argv[3], &sa, &len);
  if (ok == 0) return throw_type(env, "name must be a string");
  if (ok < 0) return num(env, -ENAMETOOLONG);
  return send_common(env, fd, data, size, (struct sockaddr*)&sa, len);
}

/* recvfrom(fd, maxBytes) -> { data, address: {path, abstract}, truncated } | -errno */
static napi_value js_recvfrom(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd, max;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &max) || max < 1)
    return throw_type(env, "recvfrom(fd, maxBytes)");
  return recv_common(env, fd, max, MSG_TRUNC | MSG_DONTWAIT, 0);
}

/* sendmsg(fd, data, fds[]) -> bytes | -errno (SCM_RIGHTS) */
static napi_value js_sendmsg(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || !get_int(env, argv[0], &fd)) return throw_type(env, "sendmsg(fd, data, fds)");
  void* data;
  size_t size;
  if (!get_bytes(env, argv[1], &data, &size)) return throw_type(env, "data must be a Uint8Array");
  uint32_t nfds = 0;
  if (napi_get_array_length(env, argv[2], &nfds) != napi_ok) return throw_type(env, "fds must be an array");
  if (nfds > 253) return num(env, -EINVAL); /* SCM_MAX_FD */
  size_t space = CMSG_SPACE(sizeof(int) * (nfds > 0 ? nfds : 1));
  char* control = calloc(1, space);
  if (control == NULL) return num(env, -ENOMEM);
  struct iovec iov = {.iov_base = data, .iov_len = size};
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (nfds > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    int* fds = (int*)CMSG_DATA(c);
    for (uint32_t i = 0; i < nfds; i++) {
      napi_value e;
      int32_t v;
      napi_get_element(env, argv[2], i, &e);
      if (!get_int(env, e, &v)) {
        free(control);
        return throw_type(env, "fds must be integers");
      }
      fds[i] = v;
    }
  }
  ssize_t r = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  int e = errno;
  free(control);
  return num(env, r < 0 ? -e : (double)r);
}

/* sendmmsg(fd, datas: Array<Uint8Array>, start, count, name|null, abstract) -> datagrams sent | -errno:
   datas[start .. start+count) in one sendmmsg call (count <= 1024), all to one
   destination (null: connected), never blocking, no SIGPIPE. Like sendmmsg(2),
   a failure after the first datagram ends the batch early and returns how many
   went; the caller retries the next one to learn its error (or wait for room). */
#define SENDMMSG_MAX 1024
static napi_value js_sendmmsg(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  int32_t fd, start, count;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6 || !get_int(env, argv[0], &fd) || !get_int(env, argv[2], &start) || !get_int(env, argv[3], &count) ||
      start < 0 || count < 0)
    return throw_type(env, "sendmmsg(fd, datas, start, count, name, abstract)");
  if (count > SENDMMSG_MAX) count = SENDMMSG_MAX;
  if (count == 0) return num(env, 0);
  struct sockaddr_un sa;
  socklen_t len = 0;
  napi_valuetype t;
  napi_typeof(env, argv[4], &t);
  int connected = t == napi_null || t == napi_undefined;
  if (!connected) {
    int ok = make_addr(env, argv[4], argv[5], &sa, &len);
    if (ok == 0) return throw_type(env, "name must be a string");
    if (ok < 0) return num(env, -ENAMETOOLONG);
  }
  struct mmsghdr* msgs = calloc((size_t)count, sizeof(struct mmsghdr));
  struct iovec* iov = calloc((size_t)count, sizeof(struct iovec));
  if (msgs == NULL || iov == NULL) {
    free(msgs);
    free(iov);
    return num(env, -ENOMEM);
  }
  for (int32_t i = 0; i < count; i++) {
    napi_value e;
    void* data;
    size_t size;
    if (napi_get_element(env, argv[1], (uint32_t)(start + i), &e) != napi_ok || !get_bytes(env, e, &data, &size)) {
      free(msgs);
      free(iov);
      return throw_type(env, "datas must be an array of Uint8Array");
    }
    iov[i].iov_base = data;
    iov[i].iov_len = size;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    if (!connected) {
      msgs[i].msg_hdr.msg_name = &sa;
      msgs[i].msg_hdr.msg_namelen = len;
    }
  }
  int r;
  do r = sendmmsg(fd, msgs, (unsigned int)count, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  int e = errno;
  free(msgs);
  free(iov);
  return num(env, r < 0 ? -e : r);
}

/* recvmsg(fd, maxBytes, maxFds) -> { data, fds, truncated, dataTruncated } | -errno */
static napi_value js_recvmsg(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd, max, maxfds;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &max) || !get_int(env, argv[2], &maxfds) ||
      max < 1 || maxfds < 0 || maxfds > 253)
    return throw_type(env, "recvmsg(fd, maxBytes, maxFds)");
  char* buf = malloc((size_t)max);
  size_t space = CMSG_SPACE(sizeof(int) * (maxfds > 0 ? maxfds : 1));
  char* control = calloc(1, space);
  if (buf == NULL || control == NULL) {
    free(buf);
    free(control);
    return num(env, -ENOMEM);
  }
  struct iovec iov = {.iov_base = buf, .iov_len = (size_t)max};
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (maxfds > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * maxfds);
  }
  ssize_t r = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (r < 0) {
    int e = errno;
    free(buf);
    free(control);
    return num(env, -e);
  }
  napi_value obj, data, fds, trunc, dtrunc;
  napi_create_object(env, &obj);
  void* out;
  napi_create_buffer_copy(env, (size_t)r, buf, &out, &data);
  napi_create_array(env, &fds);
  uint32_t k = 0;
  int extra = 0;
  if (maxfds > 0) {
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int* p = (int*)CMSG_DATA(c);
        for (size_t i = 0; i < n; i++) {
          if (k < (uint32_t)maxfds) {
            napi_set_element(env, fds, k++, num(env, p[i]));
          } else {
            /* CMSG_SPACE rounds up, so the kernel may pass more than asked: close and report them. */
            close(p[i]);
            extra = 1;
          }
        }
      }
    }
  }
  /* MSG_CTRUNC: the kernel closed descriptors that did not fit (or maxFds was 0). */
  napi_get_boolean(env, (msg.msg_flags & MSG_CTRUNC) != 0 || extra, &trunc);
  napi_get_boolean(env, (msg.msg_flags & MSG_TRUNC) != 0, &dtrunc);
  napi_set_named_property(env, obj, "data", data);
  napi_set_named_property(env, obj, "fds", fds);
  napi_set_named_property(env, obj, "truncated", trunc);
  napi_set_named_property(env, obj, "dataTruncated", dtrunc);
  free(buf);
  free(control);
  return obj;
}

static napi_value js_setsockopt(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t fd, level, name, value;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &level) || !get_int(env, argv[2], &name) ||
      !get_int(env, argv[3], &value))
    return throw_type(env, "setsockopt(fd, level, name, value)");
  int v = value;
  return num(env, setsockopt(fd, level, name, &v, sizeof(v)) < 0 ? -errno : 0);
}

/* getsockopt(fd, level, name) -> [errno(0 = ok), value] */
static napi_value js_getsockopt(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd, level, name;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &level) || !get_int(env, argv[2], &name))
    return throw_type(env, "getsockopt(fd, level, name)");
  int v = 0;
  socklen_t len = sizeof(v);
  int r = getsockopt(fd, level, name, &v, &len);
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, num(env, r < 0 ? errno : 0));
  napi_set_element(env, arr, 1, num(env, v));
  return arr;
}

static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd, how;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &how)) return throw_type(env, "shutdown(fd, how)");
  return num(env, shutdown(fd, how) < 0 ? -errno : 0);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_int(env, argv[0], &fd)) return throw_type(env, "close(fd)");
  return num(env, close(fd) < 0 ? -errno : 0);
}

/* dup(fd) with CLOEXEC, for handing a descriptor to a runtime that will own it. */
static napi_value js_dup(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_int(env, argv[0], &fd)) return throw_type(env, "dup(fd)");
  int r = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return num(env, r < 0 ? -errno : r);
}

/* fcntl O_NONBLOCK on/off */
static napi_value js_setnonblocking(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  bool on = true;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !get_int(env, argv[0], &fd)) return throw_type(env, "setNonBlocking(fd, on)");
  napi_get_value_bool(env, argv[1], &on);
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return num(env, -errno);
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  return num(env, fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0);
}

/* sendtoWait(fd, data, name, abstract, callback(result)): a blocking sendto
   on a worker thread, for unconnected datagram sends that hit EAGAIN on a
   full receiver queue. Linux gives no readiness signal for that case (poll
   reports the unconnected socket writable), but a blocking sendto sleeps in
   the kernel until the receiver's queue drains. The socket must be in
   blocking mode with SO_SNDTIMEO set, so a wait returns EAGAIN periodically
   and the caller can stop on interruption. */
typedef struct {
  napi_async_work work;
  napi_ref cb;
  napi_ref data_ref;
  int fd;
  void* data;
  size_t size;
  struct sockaddr_un sa;
  socklen_t len;
  ssize_t result;
} send_work_t;

static void send_execute(napi_env env, void* arg) {
  send_work_t* w = arg;
  ssize_t r = sendto(w->fd, w->data, w->size, MSG_NOSIGNAL, (struct sockaddr*)&w->sa, w->len);
  w->result = r < 0 ? -errno : r;
}

static void send_complete(napi_env env, napi_status status, void* arg) {
  send_work_t* w = arg;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, global, result, args[1];
  napi_get_reference_value(env, w->cb, &cb);
  napi_get_global(env, &global);
  args[0] = num(env, status == napi_ok ? (double)w->result : -ECANCELED);
  napi_delete_reference(env, w->cb);
  napi_delete_reference(env, w->data_ref);
  napi_delete_async_work(env, w->work);
  close(w->fd);
  free(w);
  napi_call_function(env, global, cb, 1, args, &result);
  napi_close_handle_scope(env, scope);
}

static napi_value js_sendto_wait(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5 || !get_int(env, argv[0], &fd)) return throw_type(env, "sendtoWait(fd, data, name, abstract, cb)");
  send_work_t* w = calloc(1, sizeof(send_work_t));
  w->fd = fd;
  if (!get_bytes(env, argv[1], &w->data, &w->size)) {
    free(w);
    return throw_type(env, "data must be a Uint8Array");
  }
  int ok = make_addr(env, argv[2], argv[3], &w->sa, &w->len);
  if (ok <= 0) {
    free(w);
    return ok == 0 ? throw_type(env, "name must be a string") : num(env, -ENAMETOOLONG);
  }
  /* A private duplicate: closing the caller's fd meanwhile cannot redirect this send. */
  w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (w->fd < 0) {
    int e = errno;
    free(w);
    return num(env, -e);
  }
  napi_create_reference(env, argv[1], 1, &w->data_ref);
  napi_create_reference(env, argv[4], 1, &w->cb);
  napi_value name;
  napi_create_string_utf8(env, "netfx:sendto", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_async_work(env, NULL, name, send_execute, send_complete, w, &w->work));
  CHECK(napi_queue_async_work(env, w->work));
  return num(env, 0);
}

/* setsockopt SO_SNDTIMEO / SO_RCVTIMEO in milliseconds */
static napi_value js_set_timeout(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd, name, ms;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &name) || !get_int(env, argv[2], &ms))
    return throw_type(env, "setTimeout(fd, name, ms)");
  struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
  return num(env, setsockopt(fd, SOL_SOCKET, name, &tv, sizeof(tv)) < 0 ? -errno : 0);
}

/* ---------- readiness ---------- */

typedef struct watcher {
  uint32_t id;
  uint32_t gen;
  int fd;
  int armed;
  int in_epoll;
  uv_poll_t* poll; /* Node only */
} watcher_t;

typedef struct {
  napi_env env;
  int bun;
  napi_ref dispatcher;
  napi_async_context async_ctx;
  uv_loop_t* loop;
  watcher_t** table;
  uint32_t size;
  uint32_t gen;
  /* Bun */
  int epfd;
  napi_threadsafe_function tsfn;
  int tsfn_refs;
  pthread_t thread;
} state_t;

static state_t* S = NULL;

static void dispatch(napi_env env, uint32_t id, int events) {
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value fn, global, args[2], result;
  napi_get_reference_value(env, S->dispatcher, &fn);
  napi_get_global(env, &global);
  args[0] = num(env, id);
  args[1] = num(env, events);
  if (S->bun) {
    napi_call_function(env, global, fn, 2, args, &result);
  } else {
    napi_make_callback(env, S->async_ctx, global, fn, 2, args, &result);
  }
  napi_close_handle_scope(env, scope);
}

static void arm_count(napi_env env, int delta) {
  if (!S->bun) return;
  int before = S->tsfn_refs;
  S->tsfn_refs += delta;
  if (before == 0 && S->tsfn_refs > 0) napi_ref_threadsafe_function(env, S->tsfn);
  if (before > 0 && S->tsfn_refs == 0) napi_unref_threadsafe_function(env, S->tsfn);
}

static void on_uv_poll(uv_poll_t* handle, int status, int events) {
  watcher_t* w = (watcher_t*)handle->data;
  uv_poll_stop(handle);
  w->armed = 0;
  int ev = 0;
  if (status < 0) ev = EV_ERROR | EV_READ | EV_WRITE;
  if (events & UV_READABLE) ev |= EV_READ;
  if (events & UV_WRITABLE) ev |= EV_WRITE;
  if (events & UV_DISCONNECT) ev |= EV_READ;
  dispatch(S->env, w->id, ev);
}

typedef struct {
  uint32_t id;
  uint32_t gen;
  int events;
} event_t;

static void tsfn_call(napi_env env, napi_value js_cb, void* context, void* data) {
  event_t* e = (event_t*)data;
  if (env != NULL && e->id < S->size) {
    watcher_t* w = S->table[e->id];
    if (w != NULL && w->gen == e->gen && w->armed) {
      w->armed = 0;
      arm_count(env, -1);
      dispatch(env, e->id, e->events);
    }
  }
  free(e);
}

static void* epoll_thread(void* arg) {
  struct epoll_event events[64];
  for (;;) {
    int n = epoll_wait(S->epfd, events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; i++) {
      event_t* e = malloc(sizeof(event_t));
      if (e == NULL) continue;
      uint64_t key = events[i].data.u64;
      e->id = (uint32_t)(key & 0xffffffffu);
      e->gen = (uint32_t)(key >> 32);
      int ev = 0;
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) ev |= EV_READ;
      if (events[i].events & EPOLLOUT) ev |= EV_WRITE;
      if (events[i].events & EPOLLERR) ev |= EV_ERROR | EV_READ | EV_WRITE;
      e->events = ev;
      if (napi_call_threadsafe_function(S->tsfn, e, napi_tsfn_blocking) != napi_ok) free(e);
    }
  }
  return NULL;
}

/* init(dispatcher(id, events), isBun) */
static napi_value js_init(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_value owner;
  /* The readiness state is the first environment's: its loop (Node) or its
     threadsafe function (Bun) delivers every event. Another environment (a
     worker thread) learns that it does not own it (false) and gets no
     watchers (js_watch), rather than watchers polled on a loop that is not
     its own. */
  if (S != NULL) {
    napi_get_boolean(env, env == S->env, &owner);
    return owner;
  }
  if (argc < 2) return throw_type(env, "init(dispatcher, isBun)");
  S = calloc(1, sizeof(state_t));
  S->env = env;
  bool bun = false;
  napi_get_value_bool(env, argv[1], &bun);
  S->bun = bun;
  CHECK(napi_create_reference(env, argv[0], 1, &S->dispatcher));
  if (!bun) {
    napi_value name;
    napi_create_string_utf8(env, "netfx:poll", NAPI_AUTO_LENGTH, &name);
    napi_value resource;
    napi_create_object(env, &resource);
    CHECK(napi_async_init(env, resource, name, &S->async_ctx));
    CHECK(napi_get_uv_event_loop(env, &S->loop));
  } else {
    S->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (S->epfd < 0) {
      napi_throw_error(env, NULL, "epoll_create1 failed");
      return NULL;
    }
    napi_value name;
    napi_create_string_utf8(env, "netfx:epoll", NAPI_AUTO_LENGTH, &name);
    CHECK(napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, tsfn_call, &S->tsfn));
    CHECK(napi_unref_threadsafe_function(env, S->tsfn));
    pthread_create(&S->thread, NULL, epoll_thread, NULL);
    pthread_detach(S->thread);
  }
  napi_get_boolean(env, true, &owner);
  return owner;
}

/* watch(fd) -> id */
static napi_value js_watch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (S == NULL) return throw_type(env, "init first");
  if (argc < 1 || !get_int(env, argv[0], &fd)) return throw_type(env, "watch(fd)");
  if (env != S->env) return num(env, -ENOSYS);
  uint32_t id = 0;
  while (id < S->size && S->table[id] != NULL) id++;
  if (id == S->size) {
    uint32_t size = S->size == 0 ? 64 : S->size * 2;
    watcher_t** t = realloc(S->table, sizeof(watcher_t*) * size);
    if (t == NULL) return num(env, -ENOMEM);
    for (uint32_t i = S->size; i < size; i++) t[i] = NULL;
    S->table = t;
    S->size = size;
  }
  watcher_t* w = calloc(1, sizeof(watcher_t));
  w->id = id;
  w->gen = ++S->gen;
  w->fd = fd;
  if (!S->bun) {
    w->poll = calloc(1, sizeof(uv_poll_t));
    int r = uv_poll_init(S->loop, w->poll, fd);
    if (r < 0) {
      free(w->poll);
      free(w);
      return num(env, r); /* libuv errors are -errno on Linux */
    }
    w->poll->data = w;
  }
  S->table[id] = w;
  return num(env, id);
}

/* arm(id, events): one callback when any of the events is ready. 0 disarms. */
static napi_value js_arm(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t id, events;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !get_int(env, argv[0], &id) || !get_int(env, argv[1], &events)) return throw_type(env, "arm(id, events)");
  if (S == NULL || id < 0 || (uint32_t)id >= S->size || S->table[id] == NULL) return num(env, -EBADF);
  watcher_t* w = S->table[id];
  if (!S->bun) {
    if (events == 0) {
      uv_poll_stop(w->poll);
      w->armed = 0;
      return num(env, 0);
    }
    int uvev = ((events & EV_READ) ? UV_READABLE : 0) | ((events & EV_WRITE) ? UV_WRITABLE : 0);
    int r = uv_poll_start(w->poll, uvev, on_uv_poll);
    w->armed = r == 0;
    return num(env, r);
  }
  struct epoll_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLONESHOT | ((events & EV_READ) ? (EPOLLIN | EPOLLRDHUP) : 0) | ((events & EV_WRITE) ? EPOLLOUT : 0);
  ev.data.u64 = ((uint64_t)w->gen << 32) | (uint64_t)w->id;
  int r;
  if (events == 0) ev.events = EPOLLONESHOT; /* registered but nothing wanted */
  if (!w->in_epoll) {
    r = epoll_ctl(S->epfd, EPOLL_CTL_ADD, w->fd, &ev);
    if (r == 0) w->in_epoll = 1;
  } else {
    r = epoll_ctl(S->epfd, EPOLL_CTL_MOD, w->fd, &ev);
  }
  if (r < 0) return num(env, -errno);
  int now = events != 0;
  if (now && !w->armed) arm_count(env, +1);
  if (!now && w->armed) arm_count(env, -1);
  w->armed = now;
  return num(env, 0);
}

static void free_poll(uv_handle_t* h) { free(h); }

/* unwatch(id): stop and forget; call before closing the fd. */
static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t id;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_int(env, argv[0], &id)) return throw_type(env, "unwatch(id)");
  if (S == NULL || id < 0 || (uint32_t)id >= S->size || S->table[id] == NULL) return num(env, 0);
  watcher_t* w = S->table[id];
  S->table[id] = NULL;
  if (!S->bun) {
    uv_poll_stop(w->poll);
    uv_close((uv_handle_t*)w->poll, free_poll);
  } else {
    if (w->in_epoll) epoll_ctl(S->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    if (w->armed) arm_count(env, -1);
  }
  free(w);
  return num(env, 0);
}

/* ---------- batched UDP receive (Node only) ----------
   udpRecvStart(fd, callback, meta: Int32Array(2 * UDP_BATCH)) -> handle | -errno
   udpRecvStop(handle)

   Watches a private duplicate of `fd` with a persistent uv_poll (never the
   runtime's own descriptor number: libuv allows one watcher per fd number)
   and, whenever it is readable, reads what is queued with recvmmsg in
   batches of up to UDP_BATCH datagrams (up to UDP_ROUNDS batches per
   wake-up), crossing into JS once per batch:
     callback(data: Buffer, count, senders: Array | undefined, error: 0)
   data holds the datagrams back to back; meta[i] is datagram i's length and
   meta[UDP_BATCH + i] the index in `senders` of a sender that differs from
   the previous datagram's (-1: the same sender as the datagram before it,
   across batches). senders is flat: host, port, family (4 | 6) per entry;
   the host is Node's rinfo.address form (a link-local IPv6 address carries
   its %interface). A receive error (an ICMP error reported on a connected
   socket, ...) is callback(null, 0, undefined, -errno). EAGAIN ends a
   wake-up; EINTR retries. Stop closes the watcher and the duplicate at once;
   no callback runs after it. -ENOSYS under Bun (no uv_poll) and in any
   environment but the first to load the addon (a worker thread). */

#include <net/if.h>

#define UDP_BATCH 64
#define UDP_ROUNDS 4
#define UDP_SLOT 65536

typedef struct {
  uv_poll_t poll;
  int fd;
  int stopped;
  int handle_closed;
  int js_gone;
  napi_ref cb;
  napi_ref meta;
  struct sockaddr_storage last;
  socklen_t last_len;
} udp_recv_t;

static char* udp_scratch = NULL;
static struct mmsghdr udp_msgs[UDP_BATCH];
static struct iovec udp_iov[UDP_BATCH];
static struct sockaddr_storage udp_from[UDP_BATCH];

static void udp_free_if_done(udp_recv_t* r) {
  if (r->handle_closed && r->js_gone) free(r);
}

static void udp_on_close(uv_handle_t* h) {
  udp_recv_t* r = (udp_recv_t*)h->data;
  r->handle_closed = 1;
  udp_free_if_done(r);
}

static void udp_stop(napi_env env, udp_recv_t* r) {
  if (r->stopped) return;
  r->stopped = 1;
  napi_delete_reference(env, r->cb);
  napi_delete_reference(env, r->meta);
  /* uv_close stops the poll and forgets the descriptor synchronously, so the duplicate can go now */
  uv_close((uv_handle_t*)&r->poll, udp_on_close);
  close(r->fd);
  r->fd = -1;
}

static void udp_finalize(napi_env env, void* data, void* hint) {
  udp_recv_t* r = data;
  udp_stop(env, r);
  r->js_gone = 1;
  udp_free_if_done(r);
}

/* Node's rinfo.address: inet_ntop, plus %interface for a link-local IPv6 address with a scope. */
static void udp_host(struct sockaddr_storage* ss, char* host, size_t size) {
  if (ss->ss_family == AF_INET) {
    inet_ntop(AF_INET, &((struct sockaddr_in*)ss)->sin_addr, host, (socklen_t)size);
    return;
  }
  struct sockaddr_in6* a6 = (struct sockaddr_in6*)ss;
  inet_ntop(AF_INET6, &a6->sin6_addr, host, (socklen_t)size);
  if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr) && a6->sin6_scope_id > 0) {
    size_t n = strlen(host);
    char name[IF_NAMESIZE];
    if (n + 1 + IF_NAMESIZE < size && if_indextoname(a6->sin6_scope_id, name) != NULL) {
      host[n] = '%';
      strcpy(host + n + 1, name);
    } else if (n + 12 < size) {
      snprintf(host + n, size - n, "%%%u", (unsigned)a6->sin6_scope_id);
    }
  }
}

static int udp_port(struct sockaddr_storage* ss) {
  return ntohs(ss->ss_family == AF_INET ? ((struct sockaddr_in*)ss)->sin_port : ((struct sockaddr_in6*)ss)->sin6_port);
}

/* Calls the JS callback; returns 0 when the watcher was stopped meanwhile. */
static int udp_call(napi_env env, udp_recv_t* r, napi_value data, int count, napi_value senders, int error) {
  napi_value fn, global, args[4], result;
  if (napi_get_reference_value(env, r->cb, &fn) != napi_ok || fn == NULL) return 0;
  napi_get_global(env, &global);
  args[0] = data;
  args[1] = num(env, count);
  args[2] = senders;
  args[3] = num(env, error);
  napi_make_callback(env, S->async_ctx, global, fn, 4, args, &result);
  return !r->stopped;
}

static void udp_on_poll(uv_poll_t* h, int status, int events) {
  udp_recv_t* r = (udp_recv_t*)h->data;
  napi_env env = S->env;
  if (r->stopped) return;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value undef, null;
  napi_get_undefined(env, &undef);
  napi_get_null(env, &null);
  /* On EPOLLERR (an ICMP error pending on the socket) libuv stops the poll and
     reports UV_EBADF: read anyway (recvmmsg returns the pending error and clears
     it), then watch again. */
  int outcome = 0; /* 1: read datagrams or an error */
  for (int round = 0; round < UDP_ROUNDS && !r->stopped; round++) {
    for (int i = 0; i < UDP_BATCH; i++) {
      udp_iov[i].iov_base = udp_scratch + (size_t)i * UDP_SLOT;
      udp_iov[i].iov_len = UDP_SLOT;
      memset(&udp_msgs[i].msg_hdr, 0, sizeof(struct msghdr));
      udp_msgs[i].msg_hdr.msg_iov = &udp_iov[i];
      udp_msgs[i].msg_hdr.msg_iovlen = 1;
      udp_msgs[i].msg_hdr.msg_name = &udp_from[i];
      udp_msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
      udp_msgs[i].msg_len = 0;
    }
    int n = recvmmsg(r->fd, udp_msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) {
        round--;
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        outcome = 1;
        udp_call(env, r, null, 0, undef, -errno);
      }
      break;
    }
    if (n == 0) break;
    outcome = 1;
    size_t total = 0;
    for (int i = 0; i < n; i++) total += udp_msgs[i].msg_len;
    napi_value data, meta_v, senders = undef;
    void* out = NULL;
    if (napi_create_buffer(env, total, &out, &data) != napi_ok) break;
    if (napi_get_reference_value(env, r->meta, &meta_v) != napi_ok || meta_v == NULL) break;
    napi_typedarray_type type;
    size_t length;
    void* base = NULL;
    napi_value ab;
    size_t offset;
    if (napi_get_typedarray_info(env, meta_v, &type, &length, &base, &ab, &offset) != napi_ok ||
        type != napi_int32_array || length < 2 * UDP_BATCH)
      break;
    int32_t* meta = base;
    uint32_t nsenders = 0;
    size_t at = 0;
    for (int i = 0; i < n; i++) {
      size_t len = udp_msgs[i].msg_len;
      if (len > 0) memcpy((char*)out + at, udp_iov[i].iov_base, len);
      at += len;
      meta[i] = (int32_t)len;
      socklen_t alen = udp_msgs[i].msg_hdr.msg_namelen;
      struct sockaddr_storage* from = &udp_from[i];
      if (alen == r->last_len && memcmp(from, &r->last, alen) == 0) {
        meta[UDP_BATCH + i] = -1;
        continue;
      }
      if (alen > sizeof(r->last)) alen = sizeof(r->last);
      memcpy(&r->last, from, alen);
      r->last_len = alen;
      if (senders == undef) napi_create_array(env, &senders);
      char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
      napi_value h;
      udp_host(from, host, sizeof(host));
      napi_create_string_utf8(env, host, NAPI_AUTO_LENGTH, &h);
      meta[UDP_BATCH + i] = (int32_t)(nsenders / 3);
      napi_set_element(env, senders, nsenders++, h);
      napi_set_element(env, senders, nsenders++, num(env, udp_port(from)));
      napi_set_element(env, senders, nsenders++, num(env, from->ss_family == AF_INET6 ? 6 : 4));
    }
    if (!udp_call(env, r, data, n, senders, 0)) break;
    if (n < UDP_BATCH) break;
  }
  if (status < 0 && !r->stopped) {
    /* nothing to read: a real poll failure, reported once (the watcher stays stopped) */
    if (!outcome) udp_call(env, r, null, 0, undef, status);
    else {
      int rc = uv_poll_start(&r->poll, UV_READABLE, udp_on_poll);
      if (rc < 0) udp_call(env, r, null, 0, undef, rc);
    }
  }
  napi_close_handle_scope(env, scope);
}

static napi_value js_udp_recv_start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (S == NULL) return throw_type(env, "init first");
  if (argc < 3 || !get_int(env, argv[0], &fd)) return throw_type(env, "udpRecvStart(fd, callback, meta)");
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_function) return throw_type(env, "callback must be a function");
  bool is_ta = false;
  napi_is_typedarray(env, argv[2], &is_ta);
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  if (is_ta) napi_get_typedarray_info(env, argv[2], &type, &length, NULL, NULL, NULL);
  if (!is_ta || type != napi_int32_array || length < 2 * UDP_BATCH)
    return throw_type(env, "meta must be an Int32Array of 128");
  /* Bun has no uv_poll; and the readiness state belongs to the first
     environment that loaded the addon (a worker thread's sockets must not be
     polled on the main thread's loop): node:dgram receives there. */
  if (S->bun || env != S->env) return num(env, -ENOSYS);
  if (udp_scratch == NULL) {
    udp_scratch = malloc((size_t)UDP_BATCH * UDP_SLOT);
    if (udp_scratch == NULL) return num(env, -ENOMEM);
  }
  udp_recv_t* r = calloc(1, sizeof(udp_recv_t));
  if (r == NULL) return num(env, -ENOMEM);
  r->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (r->fd < 0) {
    int e = errno;
    free(r);
    return num(env, -e);
  }
  int rc = uv_poll_init(S->loop, &r->poll, r->fd);
  if (rc == 0) {
    r->poll.data = r;
    rc = uv_poll_start(&r->poll, UV_READABLE, udp_on_poll);
    if (rc < 0) {
      r->stopped = 1;
      r->js_gone = 1;
      uv_close((uv_handle_t*)&r->poll, udp_on_close);
      close(r->fd);
      return num(env, rc);
    }
  } else {
    close(r->fd);
    free(r);
    return num(env, rc);
  }
  napi_create_reference(env, argv[1], 1, &r->cb);
  napi_create_reference(env, argv[2], 1, &r->meta);
  napi_value ext;
  CHECK(napi_create_external(env, r, udp_finalize, NULL, &ext));
  return ext;
}

static napi_value js_udp_recv_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t != napi_external) return throw_type(env, "udpRecvStop(handle)");
  void* r = NULL;
  napi_get_value_external(env, argv[0], &r);
  if (r != NULL) udp_stop(env, (udp_recv_t*)r);
  return num(env, 0);
}

/* ---------- module ---------- */

static napi_value constants(napi_env env) {
  napi_value c;
  napi_create_object(env, &c);
#define C(name) napi_set_named_property(env, c, #name, num(env, name))
  C(SOCK_STREAM);
  C(SOCK_DGRAM);
  C(SOCK_SEQPACKET);
  C(SOL_SOCKET);
  C(SO_SNDBUF);
  C(SO_RCVBUF);
  C(SO_ERROR);
  C(SO_TYPE);
  C(SO_PASSCRED);
  C(SO_KEEPALIVE);
  C(SO_REUSEADDR);
  C(SO_SNDTIMEO);
  C(SO_RCVTIMEO);
  C(SO_REUSEPORT);
  C(SO_DOMAIN);
  C(SO_ACCEPTCONN);
  C(SO_BROADCAST);
  C(IPPROTO_IP);
  C(IP_TTL);
  C(AF_INET);
  C(AF_INET6);
  C(AF_UNIX);
  C(IPPROTO_IPV6);
  C(IPV6_V6ONLY);
  C(IPPROTO_TCP);
  C(SHUT_RD);
  C(SHUT_WR);
  C(SHUT_RDWR);
#undef C
  napi_set_named_property(env, c, "TCP_NODELAY", num(env, 1));
  napi_set_named_property(env, c, "EV_READ", num(env, EV_READ));
  napi_set_named_property(env, c, "EV_WRITE", num(env, EV_WRITE));
  napi_set_named_property(env, c, "EV_ERROR", num(env, EV_ERROR));
  return c;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"init", 0, js_init, 0, 0, 0, napi_default, 0},
      {"watch", 0, js_watch, 0, 0, 0, napi_default, 0},
      {"arm", 0, js_arm, 0, 0, 0, napi_default, 0},
      {"unwatch", 0, js_unwatch, 0, 0, 0, napi_default, 0},
      {"socket", 0, js_socket, 0, 0, 0, napi_default, 0},
      {"socketpair", 0, js_socketpair, 0, 0, 0, napi_default, 0},
      {"socketIp", 0, js_socket_ip, 0, 0, 0, napi_default, 0},
      {"socketAny", 0, js_socket_any, 0, 0, 0, napi_default, 0},
      {"bindAny", 0, js_bind_any, 0, 0, 0, napi_default, 0},
      {"connectAny", 0, js_connect_any, 0, 0, 0, napi_default, 0},
      {"getsocknameAny", 0, js_getsockname_any, 0, 0, 0, napi_default, 0},
      {"getpeernameAny", 0, js_getpeername_any, 0, 0, 0, napi_default, 0},
      {"sendtoAny", 0, js_sendto_any, 0, 0, 0, napi_default, 0},
      {"recvfromAny", 0, js_recvfrom_any, 0, 0, 0, napi_default, 0},
      {"pollReadable", 0, js_poll_readable, 0, 0, 0, napi_default, 0},
      {"bindIp", 0, js_bind_ip, 0, 0, 0, napi_default, 0},
      {"bind", 0, js_bind, 0, 0, 0, napi_default, 0},
      {"connect", 0, js_connect, 0, 0, 0, napi_default, 0},
      {"listen", 0, js_listen, 0, 0, 0, napi_default, 0},
      {"accept", 0, js_accept, 0, 0, 0, napi_default, 0},
      {"getsockname", 0, js_getsockname, 0, 0, 0, napi_default, 0},
      {"getpeername", 0, js_getpeername, 0, 0, 0, napi_default, 0},
      {"sendto", 0, js_sendto, 0, 0, 0, napi_default, 0},
      {"recvfrom", 0, js_recvfrom, 0, 0, 0, napi_default, 0},
      {"sendmsg", 0, js_sendmsg, 0, 0, 0, napi_default, 0},
      {"sendmmsg", 0, js_sendmmsg, 0, 0, 0, napi_default, 0},
      {"recvmsg", 0, js_recvmsg, 0, 0, 0, napi_default, 0},
      {"setsockopt", 0, js_setsockopt, 0, 0, 0, napi_default, 0},
      {"getsockopt", 0, js_getsockopt, 0, 0, 0, napi_default, 0},
      {"shutdown", 0, js_shutdown, 0, 0, 0, napi_default, 0},
      {"close", 0, js_close, 0, 0, 0, napi_default, 0},
      {"dup", 0, js_dup, 0, 0, 0, napi_default, 0},
      {"setNonBlocking", 0, js_setnonblocking, 0, 0, 0, napi_default, 0},
      {"sendtoWait", 0, js_sendto_wait, 0, 0, 0, napi_default, 0},
      {"setTimeout", 0, js_set_timeout, 0, 0, 0, napi_default, 0},
      {"udpRecvStart", 0, js_udp_recv_start, 0, 0, 0, napi_default, 0},
      {"udpRecvStop", 0, js_udp_recv_stop, 0, 0, 0, napi_default, 0},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  napi_set_named_property(env, exports, "constants", constants(env));
  return exports;
}
