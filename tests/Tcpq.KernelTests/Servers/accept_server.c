/* The smallest server for a container test: listens on 0.0.0.0:PORT, accepts and closes every
 * connection, until SIGTERM (as a container's pid 1 it must say so: pid 1 ignores signals it has
 * no handler for). Linked statically, so an image FROM scratch holds it alone. */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void stop(int sig)
{
	(void)sig;
	_exit(0);
}

int main(int argc, char **argv)
{
	signal(SIGTERM, stop);
	if (argc != 2) {
		fprintf(stderr, "usage: accept_server PORT\n");
		return 2;
	}
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 64)) {
		perror("accept_server");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c >= 0)
			close(c);
	}
}
