// libnl-3 and libnl-route-3: used for the traffic-control arithmetic iproute2 shares with the
// kernel (scheduler ticks from /proc/net/psched, rate tables), so Faultline's qdisc requests
// carry exactly the values `tc` would send.
#include <netinet/in.h>
#include <sys/socket.h>
#include <netlink/netlink.h>
#include <netlink/utils.h>
#include <netlink/route/tc.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/link.h>
