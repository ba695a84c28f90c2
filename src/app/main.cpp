#include <iostream>

#include "trueup/core/version.hpp"

int main() {
  std::cout << "trueup " << trueup::version() << "\n";
  return 0;
}
