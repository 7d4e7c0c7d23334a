// libmnl plus the kernel's netlink UAPI headers Faultline speaks (rtnetlink, links, veth, qdiscs,
// nfnetlink_queue). netinet/in.h and sys/socket.h come first, before any linux/* header.
#include <netinet/in.h>
#include <sys/socket.h>
#include <net/if.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/veth.h>
#include <linux/pkt_sched.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/genetlink.h>
#include <linux/net_namespace.h>
