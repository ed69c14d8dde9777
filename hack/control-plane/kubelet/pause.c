/* The Pod sandbox process of the kubelet node (hack/control-plane/kubelet): it holds the Pod's
 * namespaces, reaps orphans (it is PID 1 when the Pod shares its PID namespace) and exits on
 * SIGINT or SIGTERM. Built static, it is the whole sandbox image, so no image is pulled. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) { _exit(128 + sig); }
static void on_child(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }

int main(void) {
  struct sigaction stop = {0}, child = {0};
  stop.sa_handler = on_stop;
  child.sa_handler = on_child;
  child.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGINT, &stop, 0);
  sigaction(SIGTERM, &stop, 0);
  sigaction(SIGCHLD, &child, 0);
  for (;;) pause();
}
