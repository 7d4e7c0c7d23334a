#include <netinet/in.h>
#include <sys/socket.h>
#include <pcap/pcap.h>
