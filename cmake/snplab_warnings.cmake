# Warning set shared by every snplab target. SNPLAB_WERROR turns them into errors (CI).
add_library(snplab_warnings INTERFACE)
target_compile_options(snplab_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wswitch -Wimplicit-fallthrough
  $<$<CXX_COMPILER_ID:Clang>:-Wcovered-switch-default>
  $<$<BOOL:${SNPLAB_WERROR}>:-Werror>)
