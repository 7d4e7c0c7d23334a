// Rootless Faultline: a user that is not root gets a user namespace of its own, made here, before
// main(), while the process still has one thread.
//
// unshare(CLONE_NEWUSER) and setns(CLONE_NEWUSER) refuse a multithreaded caller (EINVAL), and by
// the time Swift code runs, Dispatch and the concurrency pool may have started threads. So it is
// done in a constructor of the executable (this target is linked into `faultline` only, never
// into libraries or test bundles): the dynamic loader runs it after the shared libraries'
// constructors (none of which start a thread) and before main. The alternative, re-executing
// the binary through a helper that unshares and then execs, costs a second load of the Swift
// binary and its libraries on every command. Measured here (2 cores, load ~13 from parallel
// builds, mean of 50 each, the probe program is in the commit message): unshare + setgroups +
// both id maps 160 µs; one fork+exec of the release `faultline --version` 71 ms (30-50 ms on a
// quiet machine). A constructor also leaves /proc/self/exe, the pid and the parent unchanged
// (a lab's owner pid is what `faultline exec` finds it by). Only `faultline exec` re-executes
// itself: it must join a lab's namespace, not make one, and knows which only after parsing.
//
// Three cases:
//  * FAULTLINE_JOIN_USERNS / FAULTLINE_JOIN_NETNS set (by `faultline exec`, which re-executes
//    itself with them): join the lab's user namespace, then the node's network namespace (and
//    FAULTLINE_JOIN_CPUS: the lab's CPUs), so that the command runs where the lab's processes run.
//  * root in the initial user namespace, or root already inside a user namespace (peers started
//    by a rootless run, `unshare -Ur faultline ...`): nothing to do.
//  * otherwise (not root): unshare a user namespace, this uid mapped to 0 inside. With a range in
//    /etc/subuid and /etc/subgid and newuidmap/newgidmap installed, inside ids 1..N map to that
//    range (peers may run as distinct users); else only 0 is mapped and setgroups is denied.
//    `faultline exec` skips it (it must join the lab's namespace instead; a process cannot leave
//    a user namespace, nor enter a sibling one). FAULTLINE_ROOTLESS=0 skips it too.
// Failures do not stop the process: commands that need namespaces report why (fl_userns_*).
#define _GNU_SOURCE
#include "FaultlineEntry.h"
#include "CLinux.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pwd.h>
#include <sys/stat.h>
#include <dirent.h>
#include <sys/wait.h>

void fl_entry_linked(void) {}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t length = strlen(text);
    ssize_t written = write(fd, text, length);
    int saved = errno;
    close(fd);
    errno = saved;
    return written == (ssize_t)length ? 0 : -1;
}

// The first range for `name` or `id` in /etc/subuid or /etc/subgid: start and count.
static int subordinate_range(const char *file, const char *name, unsigned long id, unsigned long *start, unsigned long *count) {
    FILE *f = fopen(file, "re");
    if (!f) return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char *first = strtok(line, ":\n");
        char *s = strtok(NULL, ":\n");
        char *c = strtok(NULL, ":\n");
        if (!first || !s || !c) continue;
        char idText[32];
        snprintf(idText, sizeof idText, "%lu", id);
        if ((name && strcmp(first, name) == 0) || strcmp(first, idText) == 0) {
            *start = strtoul(s, NULL, 10);
            *count = strtoul(c, NULL, 10);
            found = *count > 0;
        }
    }
    fclose(f);
    return found;
}

static int runnable(const char *path) { return access(path, X_OK) == 0; }

// Runs newuidmap/newgidmap for `pid` from this (child) process, in the parent user namespace.
static int run_map_tool(const char *tool, pid_t pid, unsigned long outside, unsigned long start, unsigned long count) {
    char pidText[32], outsideText[32], startText[32], countText[32];
    snprintf(pidText, sizeof pidText, "%d", (int)pid);
    snprintf(outsideText, sizeof outsideText, "%lu", outside);
    snprintf(startText, sizeof startText, "%lu", start);
    snprintf(countText, sizeof countText, "%lu", count);
    pid_t child = fork();
    if (child < 0) return -1;
    if (child == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) { dup2(devnull, 1); dup2(devnull, 2); }
        execl(tool, tool, pidText, "0", outsideText, "1", "1", startText, countText, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void fail(int state, const char *what) {
    fl_userns_set_entry(state, errno, what, 0);
}

// Maps this process's own ids to root in the user namespace it just made (setgroups denied, as
// the kernel requires of an unprivileged gid_map). 0, or -1 with the failure recorded.
static int map_own_ids(uid_t uid, gid_t gid) {
    char map[64];
    if (write_file("/proc/self/setgroups", "deny") != 0) { fail(FL_USERNS_FAILED, "write /proc/self/setgroups"); return -1; }
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)uid);
    if (write_file("/proc/self/uid_map", map) != 0) { fail(FL_USERNS_FAILED, "write /proc/self/uid_map"); return -1; }
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)gid);
    if (write_file("/proc/self/gid_map", map) != 0) { fail(FL_USERNS_FAILED, "write /proc/self/gid_map"); return -1; }
    return 0;
}

static void join(const char *userns, const char *netns) {
    int user = open(userns, O_RDONLY | O_CLOEXEC);
    if (user < 0) { fail(FL_USERNS_JOIN_FAILED, "open the lab's user namespace"); return; }
    int net = open(netns, O_RDONLY | O_CLOEXEC);
    if (net < 0) { close(user); fail(FL_USERNS_JOIN_FAILED, "open the node's network namespace"); return; }
    struct stat mine, theirs;
    // Already in it (root's lab, or a nested call): only the network namespace to join.
    int same = stat("/proc/self/ns/user", &mine) == 0 && fstat(user, &theirs) == 0 && mine.st_ino == theirs.st_ino;
    if (!same && setns(user, CLONE_NEWUSER) != 0) {
        close(user); close(net); fail(FL_USERNS_JOIN_FAILED, "enter the lab's user namespace (setns)"); return;
    }
    if (setns(net, CLONE_NEWNET) != 0) {
        close(user); close(net); fail(FL_USERNS_JOIN_FAILED, "enter the node's network namespace (setns)"); return;
    }
    // The namespace the lab published (not another one behind a reused pid and thread id).
    const char *inode = getenv("FAULTLINE_JOIN_NETNS_INODE");
    if (inode && *inode && (fstat(net, &theirs) != 0 || (unsigned long long)theirs.st_ino != strtoull(inode, NULL, 10))) {
        close(user); close(net); errno = ESTALE; fail(FL_USERNS_JOIN_FAILED, "check the node's namespace (the lab ended)"); return;
    }
    close(user); close(net);
    const char *cpus = getenv("FAULTLINE_JOIN_CPUS");
    if (cpus && *cpus) {
        // A list of CPU numbers, comma-separated: the lab's traffic stays on them (flow order).
        cpu_set_t set;
        CPU_ZERO(&set);
        char *copy = strdup(cpus), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int cpu = atoi(t);
            if (cpu >= 0 && cpu < CPU_SETSIZE) CPU_SET(cpu, &set);
        }
        free(copy);
        if (CPU_COUNT(&set) > 0) sched_setaffinity(0, sizeof set, &set);
    }
    fl_userns_set_entry(FL_USERNS_JOINED, 0, NULL, 0);
}

// Whether `folder` (a registry of this user's: see NamespaceRegistry.swift) holds an entry whose
// owner's namespace thread is gone: a lab or run that was SIGKILLed.
static int has_dead_entry(const char *folder) {
    struct stat s;
    if (lstat(folder, &s) != 0 || !S_ISDIR(s.st_mode) || s.st_uid != geteuid()) return 0;
    DIR *dir = opendir(folder);
    if (!dir) return 0;
    int dead = 0;
    struct dirent *entry;
    while (!dead && (entry = readdir(dir))) {
        if (strncmp(entry->d_name, "faultline-", 10) != 0) continue;
        int pid = atoi(entry->d_name + 10), tid = 0;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", folder, entry->d_name);
        FILE *f = fopen(path, "re");
        if (f) { if (fscanf(f, "%d", &tid) != 1) tid = 0; fclose(f); }
        if (pid <= 0 || tid <= 0) { dead = 1; break; }
        snprintf(path, sizeof path, "/proc/%d/task/%d", pid, tid);
        if (access(path, F_OK) != 0) dead = 1;
    }
    closedir(dir);
    return dead;
}

// A SIGKILLed rootless lab can leave processes (daemons, `faultline exec` sessions) in its
// namespaces, inside its user namespace. Only a process in the parent user namespace — this
// one, before it unshares — may see and kill them (the kernel grants the owner's capabilities
// there, not in a sibling namespace). So when the user's registry holds a dead entry, a child
// started now, still outside, runs `faultline cleanup --quiet`; then this process goes on.
static void sweep_dead_labs_first(const char *self) {
    char folder[4096];
    int dead = 0;
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    if (runtime && runtime[0] == '/') {
        snprintf(folder, sizeof folder, "%s/faultline", runtime);
        dead = has_dead_entry(folder);
    }
    if (!dead) {
        snprintf(folder, sizeof folder, "/tmp/faultline-%u", (unsigned)geteuid());
        dead = has_dead_entry(folder);
    }
    if (!dead) return;
    pid_t child = fork();
    if (child == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 1);
        execl("/proc/self/exe", self, "cleanup", "--quiet", (char *)NULL);
        _exit(127);
    }
    if (child > 0) {
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    }
}

__attribute__((constructor))
static void faultline_enter_user_namespace(int argc, char **argv, char **envp) {
    (void)envp;
    const char *joinUser = getenv("FAULTLINE_JOIN_USERNS");
    const char *joinNet = getenv("FAULTLINE_JOIN_NETNS");
    // Only for `faultline exec` (what sets them): a stray variable moves no other command.
    if (joinUser && joinNet && argc > 1 && strcmp(argv[1], "exec") == 0) {
        char *u = strdup(joinUser), *n = strdup(joinNet);
        unsetenv("FAULTLINE_JOIN_USERNS");
        unsetenv("FAULTLINE_JOIN_NETNS");
        join(u, n);
        unsetenv("FAULTLINE_JOIN_CPUS");
        unsetenv("FAULTLINE_JOIN_NETNS_INODE");
        free(u); free(n);
        return;
    }
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (uid == 0) {
        fl_userns_set_entry(fl_in_initial_user_namespace() ? FL_USERNS_REAL_ROOT : FL_USERNS_INHERITED, 0, NULL, 0);
        return;
    }
    const char *wanted = getenv("FAULTLINE_ROOTLESS");
    if (wanted && strcmp(wanted, "0") == 0) { errno = 0; fail(FL_USERNS_SKIPPED, "FAULTLINE_ROOTLESS=0"); return; }
    if (argc > 1 && strcmp(argv[1], "exec") == 0) { errno = 0; fail(FL_USERNS_SKIPPED, "faultline exec joins a lab's namespace instead"); return; }
    // cleanup stays outside too: from here it may see and end what dead labs left (see above).
    if (argc > 1 && strcmp(argv[1], "cleanup") == 0) { errno = 0; fail(FL_USERNS_SKIPPED, "faultline cleanup works from outside"); return; }
    sweep_dead_labs_first(argc > 0 ? argv[0] : "faultline");

    // A subordinate range, mapped by newuidmap/newgidmap from a child left in this namespace.
    unsigned long uidStart = 0, uidCount = 0, gidStart = 0, gidCount = 0;
    struct passwd *pw = getpwuid(uid);
    const char *name = pw ? pw->pw_name : NULL;
    int ranged = runnable("/usr/bin/newuidmap") && runnable("/usr/bin/newgidmap")
        && subordinate_range("/etc/subuid", name, uid, &uidStart, &uidCount)
        && subordinate_range("/etc/subgid", name, uid, &gidStart, &gidCount);
    if (ranged) {
        int go[2];
        if (pipe2(go, O_CLOEXEC) == 0) {
            pid_t self = getpid();
            pid_t helper = fork();
            if (helper == 0) {
                char byte;
                close(go[1]);
                if (read(go[0], &byte, 1) != 1) _exit(1);
                if (run_map_tool("/usr/bin/newuidmap", self, uid, uidStart, uidCount) != 0) _exit(2);
                if (run_map_tool("/usr/bin/newgidmap", self, gid, gidStart, gidCount) != 0) _exit(3);
                _exit(0);
            }
            close(go[0]);
            if (helper > 0) {
                int unshared = unshare(CLONE_NEWUSER);
                int saved = errno;
                if (write(go[1], "g", 1) != 1) {}
                close(go[1]);
                int status = 0;
                while (waitpid(helper, &status, 0) < 0 && errno == EINTR) {}
                if (unshared != 0) { errno = saved; fail(FL_USERNS_FAILED, "unshare(CLONE_NEWUSER)"); return; }
                if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                    fl_userns_set_entry(FL_USERNS_CREATED, 0, NULL, (unsigned)(uidCount < gidCount ? uidCount : gidCount));
                    return;
                }
                // newuidmap/newgidmap refused (e.g. a primary group that is not the user's own, as
                // after newgrp: newuidmap says "owned by a different user"). They wrote nothing, so
                // this process may still map its own id, as without a range.
                if (map_own_ids(uid, gid) == 0) {
                    fl_userns_set_entry(FL_USERNS_CREATED, 0, "newuidmap/newgidmap refused the /etc/subuid range", 0);
                }
                return;
            }
            close(go[1]);
        }
    }
    if (unshare(CLONE_NEWUSER) != 0) { fail(FL_USERNS_FAILED, "unshare(CLONE_NEWUSER)"); return; }
    if (map_own_ids(uid, gid) == 0) fl_userns_set_entry(FL_USERNS_CREATED, 0, NULL, 0);
}
