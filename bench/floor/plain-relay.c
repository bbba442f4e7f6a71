/*
 * The plaintext floor of the benchmark: the least a relay process can do with a byte, in C.
 *
 *   plain-relay LISTEN_PORT TARGET_PORT
 *
 * Accepts on 127.0.0.1:LISTEN_PORT and forwards each connection to 127.0.0.1:TARGET_PORT, one thread per
 * direction (read(2) into a 64 KiB buffer, write(2) it out), TCP_NODELAY both ways, end of stream passed on as
 * shutdown(SHUT_WR). No TLS, no parsing, no allocation per byte. Two of these in a row build the same three loopback
 * hops as onion-relay's entry and exit at depth 0, so their CPU per GB is what copying every byte in and out of the
 * kernel costs on this machine, below which no relay (and no TLS engine) can go. bench/run compiles it with cc when
 * one is installed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFFER_SIZE (64 * 1024)

struct direction {
    int from;
    int to;
    pthread_mutex_t *lock;
    int *open_directions;
};

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons((unsigned short) port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

static void no_delay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Copies one direction until end of stream, then half-closes; the last direction to finish closes both sockets. */
static void *pump(void *argument) {
    struct direction *d = argument;
    char *buffer = malloc(BUFFER_SIZE);
    ssize_t n;
    while (buffer != NULL && (n = read(d->from, buffer, BUFFER_SIZE)) > 0) {
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(d->to, buffer + done, (size_t) (n - done));
            if (w <= 0) {
                goto end;
            }
            done += w;
        }
    }
end:
    shutdown(d->to, SHUT_WR);
    free(buffer);
    pthread_mutex_lock(d->lock);
    int last = --*d->open_directions == 0;
    pthread_mutex_unlock(d->lock);
    if (last) {
        close(d->from);
        close(d->to);
        pthread_mutex_destroy(d->lock);
        free(d->lock);
        free(d->open_directions);
    }
    free(d);
    return NULL;
}

static void start(int from, int to, pthread_mutex_t *lock, int *open_directions) {
    struct direction *d = malloc(sizeof *d);
    *d = (struct direction) {from, to, lock, open_directions};
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_create(&thread, &attributes, pump, d);
    pthread_attr_destroy(&attributes);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s LISTEN_PORT TARGET_PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = loopback(atoi(argv[1]));
    if (bind(listener, (struct sockaddr *) &address, sizeof address) != 0 || listen(listener, 128) != 0) {
        perror("plain-relay: listen");
        return 1;
    }
    struct sockaddr_in target = loopback(atoi(argv[2]));
    for (;;) {
        int client = accept(listener, NULL, NULL);
        if (client < 0) {
            continue;
        }
        int upstream = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(upstream, (struct sockaddr *) &target, sizeof target) != 0) {
            close(client);
            close(upstream);
            continue;
        }
        no_delay(client);
        no_delay(upstream);
        pthread_mutex_t *lock = malloc(sizeof *lock);
        pthread_mutex_init(lock, NULL);
        int *open_directions = malloc(sizeof *open_directions);
        *open_directions = 2;
        start(client, upstream, lock, open_directions);
        start(upstream, client, lock, open_directions);
    }
}
