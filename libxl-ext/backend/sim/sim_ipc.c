#include "backend/sim/sim_ipc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/cursor.h"
#include "core/private.h"

int sim_ipc_connect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd, r;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (r < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

static int send_frame(int fd, uint32_t a, const void *p, size_t len)
{
    uint8_t h[8];
    int r;

    xlmig_put_u32(h, a);
    xlmig_put_u32(h + 4, (uint32_t)len);
    r = xlmig_write_all(fd, h, 8);
    if (!r && len)
        r = xlmig_write_all(fd, p, len);
    return r ? xlmig_errno_rc(-r) : 0;
}

static int recv_frame(int fd, uint32_t *a, void **payload, size_t *len)
{
    uint8_t h[8];
    uint32_t n;
    void *p = NULL;
    int r;

    *payload = NULL;
    *len = 0;
    r = xlmig_read_exact(fd, h, 8, NULL);
    if (r)
        return r > 0 ? XLMIG_ERR_TRUNCATED : xlmig_errno_rc(-r);
    *a = xlmig_get_u32(h);
    n = xlmig_get_u32(h + 4);
    if (n > SIM_IPC_MAX)
        return XLMIG_ERR_STREAM;
    if (n) {
        p = malloc(n);
        if (!p)
            return XLMIG_ERR_NOMEM;
        r = xlmig_read_exact(fd, p, n, NULL);
        if (r) {
            free(p);
            return r > 0 ? XLMIG_ERR_TRUNCATED : xlmig_errno_rc(-r);
        }
    }
    *payload = p;
    *len = n;
    return 0;
}

int sim_ipc_call(int fd, uint32_t type, const void *req, size_t req_len,
                 void **reply, size_t *reply_len)
{
    uint32_t status;
    void *p;
    size_t n;
    int rc;

    rc = send_frame(fd, type, req, req_len);
    if (rc)
        return rc;
    rc = recv_frame(fd, &status, &p, &n);
    if (rc)
        return rc;
    if (reply) {
        *reply = p;
        *reply_len = n;
    } else {
        free(p);
    }
    return (int32_t)status;
}

int sim_ipc_recv(int fd, uint32_t *type, void **payload, size_t *len)
{
    return recv_frame(fd, type, payload, len);
}

int sim_ipc_reply(int fd, int32_t status, const void *p, size_t len)
{
    return send_frame(fd, (uint32_t)status, p, len);
}
