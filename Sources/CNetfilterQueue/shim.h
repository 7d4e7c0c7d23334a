// libnetfilter_queue's libmnl helpers (nfq_nlmsg_*): message building and attribute parsing for
// the NFQUEUE engine. Kernel structs in these messages are packed: read them with unaligned loads.
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stddef.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
