# chat_proto_library(<target> <SHARED|STATIC> <file.proto>...)
#
# Generates C++ messages and gRPC stubs for the given .proto files and builds
# them into <target>, which exposes the generated headers.
function(chat_proto_library target kind)
  set(generated_dir "${CMAKE_CURRENT_BINARY_DIR}/${target}_generated")
  file(MAKE_DIRECTORY "${generated_dir}")
  set(sources)
  foreach(proto IN LISTS ARGN)
    get_filename_component(proto_abs "${proto}" ABSOLUTE)
    get_filename_component(proto_dir "${proto_abs}" DIRECTORY)
    get_filename_component(stem "${proto_abs}" NAME_WE)
    set(outputs
      "${generated_dir}/${stem}.pb.cc" "${generated_dir}/${stem}.pb.h"
      "${generated_dir}/${stem}.grpc.pb.cc" "${generated_dir}/${stem}.grpc.pb.h")
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND protobuf::protoc
        --proto_path "${proto_dir}"
        --cpp_out "${generated_dir}"
        --grpc_out "${generated_dir}"
        --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>
        "${proto_abs}"
      DEPENDS "${proto_abs}"
      COMMENT "Generating C++ code from ${stem}.proto")
    list(APPEND sources ${outputs})
  endforeach()

  add_library(${target} ${kind} ${sources})
  # Generated code: visible symbols (users need them), none of our warnings.
  set_target_properties(${target} PROPERTIES CXX_VISIBILITY_PRESET default VISIBILITY_INLINES_HIDDEN OFF)
  target_include_directories(${target} SYSTEM PUBLIC "$<BUILD_INTERFACE:${generated_dir}>")
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf gRPC::grpc++ PRIVATE chat_sanitizers)
endfunction()
