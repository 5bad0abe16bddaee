// synflood: SYNs from many distinct 127.x.y.z source addresses and ports to a listener on
// 127.0.0.1:PORT that this program opens (and never accepts from), for the map-bound benchmark.
// Loopback only, bounded in count and time; meant to run inside a private network namespace
// (bench/run), where a rule drops the listener's SYN-ACKs so the half-open entries stay.
//   synflood -p PORT -n COUNT -d MAX_SECONDS [-o OFFSET]
// Prints one line: "sent=N seconds=S rate=R".
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint16_t csum(const void *data, size_t len, uint32_t sum)
{
	const uint16_t *p = data;
	for (; len > 1; len -= 2)
		sum += *p++;
	if (len)
		sum += *(const uint8_t *)p;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int main(int argc, char **argv)
{
	int port = 9103, opt;
	long count = 200000, offset = 0;
	double seconds = 30;
	while ((opt = getopt(argc, argv, "p:n:d:o:")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 'n': count = atol(optarg); break;
		case 'd': seconds = atof(optarg); break;
		case 'o': offset = atol(optarg); break;
		default:
			fprintf(stderr, "usage: synflood -p PORT -n COUNT -d MAX_SECONDS [-o OFFSET]\n");
			return 2;
		}
	}
	if (count <= 0 || count > 4000000 || offset < 0 || offset > 8000000 || seconds <= 0 || seconds > 600 || port < 1 || port > 65535) {
		fprintf(stderr, "synflood: bounds: 0 < count <= 4M, 0 <= offset <= 8M, 0 < seconds <= 600\n");
		return 2;
	}
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1024)) {
		perror("synflood: listen");
		return 1;
	}
	int raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW); /* IP_HDRINCL implied */
	if (raw < 0) {
		perror("synflood: raw socket");
		return 1;
	}
	struct {
		struct iphdr ip;
		struct tcphdr tcp;
	} __attribute__((packed)) pkt;
	struct {
		uint32_t src, dst;
		uint8_t zero, proto;
		uint16_t len;
		struct tcphdr tcp;
	} __attribute__((packed)) ph;
	double t0 = now();
	long sent = 0;
	for (long i = 0; i < count; i++) {
		if ((i & 1023) == 0 && now() - t0 > seconds)
			break;
		long k = offset + i;
		/* 127.1.0.0 upwards: one distinct source address per SYN, never 127.0.0.x */
		uint32_t src = (127u << 24) + (1u << 16) + (uint32_t)k;
		memset(&pkt, 0, sizeof(pkt));
		pkt.ip.version = 4;
		pkt.ip.ihl = 5;
		pkt.ip.tot_len = htons(sizeof(pkt));
		pkt.ip.id = htons((uint16_t)k);
		pkt.ip.ttl = 64;
		pkt.ip.protocol = IPPROTO_TCP;
		pkt.ip.saddr = htonl(src);
		pkt.ip.daddr = htonl(INADDR_LOOPBACK);
		pkt.tcp.source = htons((uint16_t)(1024 + (k * 7919) % 60000));
		pkt.tcp.dest = htons(port);
		pkt.tcp.seq = htonl((uint32_t)(k * 2654435761u));
		pkt.tcp.doff = 5;
		pkt.tcp.syn = 1;
		pkt.tcp.window = htons(65535);
		ph.src = pkt.ip.saddr;
		ph.dst = pkt.ip.daddr;
		ph.zero = 0;
		ph.proto = IPPROTO_TCP;
		ph.len = htons(sizeof(struct tcphdr));
		ph.tcp = pkt.tcp;
		pkt.tcp.check = csum(&ph, sizeof(ph), 0);
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		if (sendto(raw, &pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) == sizeof(pkt))
			sent++;
	}
	double t = now() - t0;
	printf("sent=%ld seconds=%.3f rate=%.0f\n", sent, t, sent / t);
	close(raw);
	close(l);
	return 0;
}
