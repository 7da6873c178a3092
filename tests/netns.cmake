# Several hosts on one machine (docs/design/multihost.md): scripts/netns-hosts.sh makes network
# namespaces joined by a bridge, and the scripts in tests/netns/ start one `scaleout run` launcher
# per namespace with netns_coll as the program. They need root (`ip netns add`); elsewhere they
# skip with 77. Each run uses its own namespace prefix, so parallel runs do not collide.
add_executable(netns_coll ${CMAKE_CURRENT_LIST_DIR}/multiproc/netns_coll.c)
target_link_libraries(netns_coll PRIVATE so_coll so_comm so_core)

set(so_netns_hosts ${PROJECT_SOURCE_DIR}/scripts/netns-hosts.sh)
# name  script  hosts  ranks-per-host  [mode  [lost host]]
foreach(spec "matrix_2x2;netns_matrix.sh;2;2" "matrix_3x2;netns_matrix.sh;3;2"
             "matrix_2x1;netns_matrix.sh;2;1" "fault_kill;netns_fault.sh;2;2;kill"
             "fault_kill_store;netns_fault.sh;3;1;kill;0"
             "fault_isolate;netns_fault.sh;3;1;isolate" "fault_isolate_2x2;netns_fault.sh;2;2;isolate")
  list(GET spec 0 name)
  list(GET spec 1 script)
  list(GET spec 2 nhosts)
  list(GET spec 3 k)
  set(mode "")
  set(lost "")
  list(LENGTH spec len)
  if(len GREATER 4)
    list(GET spec 4 mode)
  endif()
  if(len GREATER 5)
    list(GET spec 5 lost)
  endif()
  add_test(NAME netns.${name}
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/netns/${script} $<TARGET_FILE:scaleout>
                   $<TARGET_FILE:netns_coll> ${so_netns_hosts} ${nhosts} ${k} ${mode} ${lost})
  set_tests_properties(netns.${name} PROPERTIES TIMEOUT 90 LABELS "netns;multiproc"
                       SKIP_RETURN_CODE 77 PROCESSORS 2)
endforeach()

# Open MPI across the namespace hosts (mpirun's daemons started through `netns-hosts.sh rsh`).
if(TARGET so_mpi_allreduce)
  add_test(NAME netns.mpi COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/netns/netns_mpi.sh
                                  $<TARGET_FILE:so_mpi_allreduce> ${so_netns_hosts})
  set_tests_properties(netns.mpi PROPERTIES TIMEOUT 120 LABELS "netns;multiproc;mpi"
                       SKIP_RETURN_CODE 77 PROCESSORS 2)
endif()
