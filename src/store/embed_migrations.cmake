# Writes OUTPUT, a C++ file holding every migrations/<engine>/*.sql file under
# MIGRATIONS_DIR as a raw string literal (see embedded_files.hpp). Run at build
# time by src/store/CMakeLists.txt whenever a migration file changes; the
# output is only rewritten when its content changes.
cmake_minimum_required(VERSION 3.25)

file(GLOB _files RELATIVE ${MIGRATIONS_DIR} ${MIGRATIONS_DIR}/*/*.sql)
list(SORT _files)

set(_delim "trueup_sql")
set(_body "")
foreach(_rel IN LISTS _files)
  get_filename_component(_engine ${_rel} DIRECTORY)
  get_filename_component(_name ${_rel} NAME)
  if(NOT _name MATCHES "^[0-9]+(_[^/]+)?\\.sql$" OR _name MATCHES "^0+(_|\\.)")
    message(FATAL_ERROR "migrations/${_rel}: name it NNNN_what_it_does.sql (a positive version number first)")
  endif()
  file(READ ${MIGRATIONS_DIR}/${_rel} _text)
  string(FIND "${_text}" ")${_delim}\"" _clash)
  if(NOT _clash EQUAL -1)
    message(FATAL_ERROR "migrations/${_rel} contains \")${_delim}\"\", which cannot be embedded")
  endif()
  string(APPEND _body "      {\"${_engine}\", \"${_name}\", R\"${_delim}(${_text})${_delim}\"sv},\n")
endforeach()

set(_content "// Generated from migrations/ by src/store/embed_migrations.cmake. Do not edit.
#include \"embedded_files.hpp\"

namespace trueup::store::detail {

std::vector<EmbeddedFile> embedded_files() {
  using namespace std::string_view_literals;
  return {
${_body}  };
}

}  // namespace trueup::store::detail
")

file(WRITE ${OUTPUT}.tmp "${_content}")
configure_file(${OUTPUT}.tmp ${OUTPUT} COPYONLY)
file(REMOVE ${OUTPUT}.tmp)
