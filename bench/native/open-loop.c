/*
 * A native open-loop HTTP/1.1 load generator (and, with `serve`, a native constant-body server), for
 * the latency figures of bench/market-latest.bench.ts. Built by bench/native.ts with the machine's C
 * compiler; Linux only (epoll).
 *
 *   open-loop load HOST PORT RATE SECONDS CONNECTIONS REQUEST
 *     Issues REQUEST (the raw request head, CRLFs included) RATE times a second for SECONDS, on a
 *     fixed schedule whatever the answers do, over CONNECTIONS keep-alive connections (TCP_NODELAY).
 *     A request waits in a queue while every connection is busy. Each latency runs from the request's
 *     place in the schedule (not from when the client got round to sending it, so the client's own
 *     lateness is charged too, as wrk2 does) to the last byte of its answer. Answers are framed by
 *     content-length. Writes to stdout: uint32 answers, uint32 non-200 answers, then one float64 per
 *     answer (ms), little-endian, in completion order. Exit 2 on a connection or protocol error.
 *
 *   open-loop serve PORT BODY_BYTES
 *     Answers every request on 127.0.0.1:PORT (0: any free port) with a 200 and a body of BODY_BYTES;
 *     prints "ready <port>" once listening. The machine's floor: no runtime, no framework.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BYTES (1 << 20)

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void die(const char *what) {
  fprintf(stderr, "open-loop: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      die("write");
    }
    p += w;
    n -= (size_t)w;
  }
}

static void write_out(const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(1, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("stdout");
    }
    c += w;
    n -= (size_t)w;
  }
}

struct conn {
  int fd;
  int busy;
  double due; /* schedule time of the request in flight */
  char *buf;
  size_t len;
};

/* connects c[i] (TCP_NODELAY, non-blocking) and watches it */
static void open_conn(const struct sockaddr_in *addr, int ep, struct conn *c, int i) {
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (fd < 0 || connect(fd, (const struct sockaddr *)addr, sizeof *addr) != 0) die("connect");
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  c[i].fd = fd;
  c[i].busy = 0;
  c[i].len = 0;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
}

static int load(const char *host, int port, double rate, double seconds, int nconn, const char *req) {
  size_t reqlen = strlen(req);
  long total = (long)(rate * seconds + 0.5);
  double *lat = malloc(sizeof(double) * (size_t)total);
  double *queue = malloc(sizeof(double) * (size_t)total); /* schedule times waiting for a connection */
  long qhead = 0, qtail = 0, issued = 0, answered = 0;
  uint32_t non200 = 0;
  struct conn *c = calloc((size_t)nconn, sizeof *c);
  int ep = epoll_create1(0);
  if (!lat || !queue || !c || ep < 0) die("setup");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "open-loop: not an IPv4 address: %s\n", host);
    return 2;
  }
  for (int i = 0; i < nconn; i++) {
    c[i].buf = malloc(READ_BYTES);
    if (!c[i].buf) die("malloc");
    open_conn(&addr, ep, c, i);
  }
  /* idle connections, oldest first (a ring): each is reused in turn, so none sits idle long enough for
     the server's keep-alive timeout */
  int *idle = malloc(sizeof(int) * (size_t)nconn), ihead = 0, nidle = 0;
  for (int i = 0; i < nconn; i++) idle[nidle++] = i;
  struct epoll_event evs[64];
  int have_pwait2 = 1;
  double interval = 1000.0 / rate, start = now_ms();
  while (answered < total) {
    double t = now_ms();
    for (; issued < total && start + (double)issued * interval <= t; issued++) {
      double due = start + (double)issued * interval;
      if (nidle == 0) {
        queue[qtail++] = due;
        continue;
      }
      struct conn *k = &c[idle[ihead]];
      ihead = (ihead + 1) % nconn;
      nidle--;
      k->busy = 1;
      k->due = due;
      write_all(k->fd, req, reqlen);
    }
    double wait = issued < total ? start + (double)issued * interval - now_ms() : 10000.0;
    if (wait < 0) wait = 0;
    struct timespec to = {(time_t)(wait / 1000.0), (long)((wait - (double)(long)(wait / 1000.0) * 1000.0) * 1e6)};
    int n = have_pwait2 ? epoll_pwait2(ep, evs, 64, &to, NULL) : epoll_wait(ep, evs, 64, (int)(wait + 0.999));
    if (n < 0) {
      if (errno == ENOSYS && have_pwait2) { /* kernels before 5.11: millisecond timeouts, rounded up */
        have_pwait2 = 0;
        continue;
      }
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int e = 0; e < n; e++) {
      int i = (int)evs[e].data.u32;
      struct conn *k = &c[i];
      ssize_t r = read(k->fd, k->buf + k->len, READ_BYTES - k->len);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) {
        if (!k->busy && k->len == 0) { /* an idle connection closed (keep-alive timeout): open it again */
          epoll_ctl(ep, EPOLL_CTL_DEL, k->fd, NULL);
          close(k->fd);
          open_conn(&addr, ep, c, i);
          continue;
        }
        fprintf(stderr, "open-loop: the server closed a connection with an answer due\n");
        return 2;
      }
      k->len += (size_t)r;
      for (;;) {
        char *end = memmem(k->buf, k->len, "\r\n\r\n", 4);
        if (!end) break;
        size_t head = (size_t)(end - k->buf) + 4, body = 0;
        for (char *p = k->buf; p + 16 <= end; p++)
          if ((p[0] == '\n') && strncasecmp(p + 1, "content-length:", 15) == 0) {
            body = strtoul(p + 16, NULL, 10);
            break;
          }
        if (k->len < head + body) break;
        if (!k->busy) {
          fprintf(stderr, "open-loop: an answer nobody asked for\n");
          return 2;
        }
        if (strncmp(k->buf, "HTTP/1.1 200", 12) != 0) non200++;
        lat[answered++] = now_ms() - k->due;
        memmove(k->buf, k->buf + head + body, k->len - head - body);
        k->len -= head + body;
        if (qhead < qtail) {
          k->due = queue[qhead++];
          write_all(k->fd, req, reqlen);
        } else {
          k->busy = 0;
          idle[(ihead + nidle++) % nconn] = i;
        }
      }
      if (k->len == READ_BYTES) {
        fprintf(stderr, "open-loop: an answer larger than %d bytes\n", READ_BYTES);
        return 2;
      }
    }
  }
  uint32_t head[2] = {(uint32_t)answered, non200};
  write_out(head, sizeof head);
  write_out(lat, sizeof(double) * (size_t)answered);
  return 0;
}

static _Noreturn void serve(int port, long body) {
  char *resp = malloc((size_t)body + 256);
  if (!resp) die("malloc");
  int hl = sprintf(resp,
                   "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %ld\r\n"
                   "connection: keep-alive\r\n\r\n",
                   body);
  memset(resp + hl, ' ', (size_t)body);
  if (body >= 2) resp[hl] = '{', resp[hl + body - 1] = '}';
  size_t rlen = (size_t)hl + (size_t)body;
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 512) != 0) die("listen");
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  socklen_t alen = sizeof a;
  getsockname(ls, (struct sockaddr *)&a, &alen);
  printf("ready %d\n", ntohs(a.sin_port));
  fflush(stdout);
  static char buf[65536];
  struct epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(ep, evs, 64, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == ls) {
        int s = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
        if (s < 0) continue;
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event e = {.events = EPOLLIN, .data.fd = s};
        epoll_ctl(ep, EPOLL_CTL_ADD, s, &e);
        continue;
      }
      ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        close(fd);
        continue;
      }
      /* one answer per request head in what was read (heads arrive whole: they are small) */
      for (ssize_t j = 0; j + 3 < r; j++)
        if (buf[j] == '\r' && buf[j + 1] == '\n' && buf[j + 2] == '\r' && buf[j + 3] == '\n') write_all(fd, resp, rlen);
    }
  }
}

int main(int argc, char **argv) {
  if (argc == 8 && strcmp(argv[1], "load") == 0)
    return load(argv[2], atoi(argv[3]), atof(argv[4]), atof(argv[5]), atoi(argv[6]), argv[7]);
  if (argc == 4 && strcmp(argv[1], "serve") == 0) serve(atoi(argv[2]), atol(argv[3]));
  fprintf(stderr, "usage: open-loop load HOST PORT RATE SECONDS CONNECTIONS REQUEST | serve PORT BODY_BYTES\n");
  return 2;
}
