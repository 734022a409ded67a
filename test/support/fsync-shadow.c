// LD_PRELOAD shim for power-cut tests: after every successful fsync/fdatasync of a regular file
// under $CARDSYS_POWERCUT_DIR, copies the file to the same relative path under
// $CARDSYS_POWERCUT_SHADOW. The shadow tree is then what the disk holds for certain; a power cut is
// simulated by killing the process and putting the shadow tree back in place of the real one, which
// drops every write no sync covered (SQLite's unsynced WAL frames included). A file unlinked under
// the folder leaves the shadow tree too (deletions count as durable: a rollback journal that came
// back would undo a committed transaction, which is not what this simulates).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void make_parents(char *path) {
  for (char *slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
    *slash = '\0';
    mkdir(path, 0700);
    *slash = '/';
  }
}

/** The shadow path of `path` when it lies under the watched folder, else NULL. */
static const char *shadow_of(const char *path, char *target, size_t size) {
  const char *dir = getenv("CARDSYS_POWERCUT_DIR");
  const char *shadow_dir = getenv("CARDSYS_POWERCUT_SHADOW");
  if (!dir || !shadow_dir) return NULL;
  size_t dir_length = strlen(dir);
  if (strncmp(path, dir, dir_length) != 0 || path[dir_length] != '/') return NULL;
  snprintf(target, size, "%s%s", shadow_dir, path + dir_length);
  return target;
}

static void shadow(int fd) {
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return;
  path[n] = '\0';
  char target[PATH_MAX], temporary[PATH_MAX];
  if (!shadow_of(path, target, sizeof target)) return;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;

  snprintf(temporary, sizeof temporary, "%s.tmp-%ld", target, (long)syscall(SYS_gettid));
  make_parents(target);
  int in = open(path, O_RDONLY | O_CLOEXEC);
  if (in < 0) return;
  int out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    close(in);
    return;
  }
  char buffer[65536];
  ssize_t got;
  while ((got = read(in, buffer, sizeof buffer)) > 0) {
    if (write(out, buffer, (size_t)got) != got) break;
  }
  close(in);
  close(out);
  rename(temporary, target);
}

int fsync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  int result = real(fd);
  int saved = errno;
  if (result == 0) shadow(fd);
  errno = saved;
  return result;
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  int result = real(fd);
  int saved = errno;
  if (result == 0) shadow(fd);
  errno = saved;
  return result;
}

int unlink(const char *path) {
  static int (*real)(const char *);
  if (!real) real = (int (*)(const char *))dlsym(RTLD_NEXT, "unlink");
  int result = real(path);
  int saved = errno;
  char absolute[PATH_MAX], target[PATH_MAX];
  if (result == 0 && realpath(".", absolute) && (path[0] == '/' || strlen(absolute) + strlen(path) + 2 < sizeof absolute)) {
    if (path[0] != '/') {
      strcat(absolute, "/");
      strcat(absolute, path);
    } else {
      snprintf(absolute, sizeof absolute, "%s", path);
    }
    if (shadow_of(absolute, target, sizeof target)) real(target);
  }
  errno = saved;
  return result;
}
