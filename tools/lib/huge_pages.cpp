#include "tools/lib/huge_pages.hpp"

#include <unistd.h>

#include <cstdlib>

namespace rcsim::tools {

void use_huge_pages(char** argv) {
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
  if (setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1) != 0) return;
  execv("/proc/self/exe", argv);
  unsetenv("GLIBC_TUNABLES");  // could not re-execute: carry on with normal pages
}

}  // namespace rcsim::tools
