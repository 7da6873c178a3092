# Helpers shared by every CMakeLists.txt in the tree.
#
# so_add_area(NAME DEPS ...): one folder src/<NAME>/ = one static library so_<NAME>. Sources are
#   every .c below the folder, so adding a file needs no CMake edit. Internal headers stay in the
#   folder; other areas see only include/ (plus src/ for the few so__ internals a layer above uses).
# so_add_test(NAME n SOURCES ... LIBS ... CASES a b c [LABELS ...] [TIMEOUT s] [PROCESSORS p]):
#   one test executable, one CTest entry per case (`exe case`); exit code 77 means skipped.
function(so_add_area name)
  cmake_parse_arguments(A "" "" "DEPS" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${name}/*.c)
  if(NOT srcs)  # an area not written yet is an empty interface, so its users still configure
    add_library(so_${name} INTERFACE)
    target_include_directories(so_${name} INTERFACE ${PROJECT_SOURCE_DIR}/include ${CMAKE_BINARY_DIR}/include)
    target_link_libraries(so_${name} INTERFACE ${A_DEPS})
    return()
  endif()
  add_library(so_${name} STATIC ${srcs})
  target_include_directories(so_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include ${CMAKE_BINARY_DIR}/include
                             PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/${name} ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(so_${name} PUBLIC ${A_DEPS})
endfunction()

function(so_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT;PROCESSORS" "SOURCES;LIBS;CASES;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  add_executable(test_${T_NAME} ${T_SOURCES} ${PROJECT_SOURCE_DIR}/tests/so_test.c)
  target_include_directories(test_${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(test_${T_NAME} PRIVATE ${T_LIBS} so_core)
  if(NOT T_CASES)
    set(T_CASES all)
  endif()
  foreach(c ${T_CASES})
    add_test(NAME ${T_NAME}.${c} COMMAND test_${T_NAME} ${c})
    set_tests_properties(${T_NAME}.${c} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}"
                         SKIP_RETURN_CODE 77)
    if(T_PROCESSORS)
      set_tests_properties(${T_NAME}.${c} PROPERTIES PROCESSORS ${T_PROCESSORS})
    endif()
  endforeach()
endfunction()
