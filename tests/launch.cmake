# The launcher (`scaleout run`) and the CLI basics, driven from outside: test_launch starts the
# real scaleout binary with launch_worker as the program and checks what comes out.
add_executable(launch_worker ${CMAKE_CURRENT_LIST_DIR}/multiproc/launch_worker.c)
target_link_libraries(launch_worker PRIVATE so_comm so_core)
# A process group of K ranks and one barrier: what `scaleout run -n K` start-up is measured on.
add_executable(launch_barrier ${CMAKE_CURRENT_LIST_DIR}/multiproc/launch_barrier.c)
target_link_libraries(launch_barrier PRIVATE so_comm so_core)

so_add_test(NAME launch SOURCES ${CMAKE_CURRENT_LIST_DIR}/multiproc/test_launch.c
            LIBS so_core
            CASES env store two_nodes two_nodes_restart prefix fate cascade sigkill restart
                  restart_exhausted early log_dir signals nohup timeout bad_flags info
            LABELS multiproc TIMEOUT 60)
target_compile_definitions(test_launch PRIVATE SO_SCALEOUT_EXE="$<TARGET_FILE:scaleout>"
                           SO_LAUNCH_WORKER_EXE="$<TARGET_FILE:launch_worker>")
add_dependencies(test_launch scaleout launch_worker)

# so_cli_launch_self: this test plays the scaleout binary and launches itself as 3 ranks.
add_executable(test_launch_self ${CMAKE_CURRENT_LIST_DIR}/multiproc/test_launch_self.c
               ${PROJECT_SOURCE_DIR}/cli/launch_self.c ${PROJECT_SOURCE_DIR}/tests/so_test.c)
target_include_directories(test_launch_self PRIVATE ${PROJECT_SOURCE_DIR}/tests
                           ${PROJECT_SOURCE_DIR}/cli)
target_link_libraries(test_launch_self PRIVATE so_launch so_comm so_core)
foreach(c hello fail is_worker)
  add_test(NAME launch_self.${c} COMMAND test_launch_self ${c})
  set_tests_properties(launch_self.${c} PROPERTIES TIMEOUT 60 LABELS multiproc SKIP_RETURN_CODE 77)
endforeach()

# scaleout tour with fake demos: this test plays the scaleout binary and its demos.
add_executable(test_tour ${CMAKE_CURRENT_LIST_DIR}/multiproc/test_tour.c
               ${PROJECT_SOURCE_DIR}/cli/cmd_tour.c ${PROJECT_SOURCE_DIR}/tests/so_test.c)
target_include_directories(test_tour PRIVATE ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR}/cli)
target_link_libraries(test_tour PRIVATE so_core)
foreach(c all only_full)
  add_test(NAME tour.${c} COMMAND test_tour ${c})
  set_tests_properties(tour.${c} PROPERTIES TIMEOUT 60 LABELS multiproc SKIP_RETURN_CODE 77)
endforeach()

# Binding workers to CPUs (--bind-to core|none, auto when they fit).
add_test(NAME launch.bind COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/shell/launch_bind.sh $<TARGET_FILE:scaleout>)
set_tests_properties(launch.bind PROPERTIES TIMEOUT 60 LABELS multiproc SKIP_RETURN_CODE 77)
