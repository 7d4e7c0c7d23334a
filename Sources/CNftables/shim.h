#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <nftables/libnftables.h>
