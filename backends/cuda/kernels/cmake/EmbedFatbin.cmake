# Turns a binary file into a C++ source defining
#   alignas(64) const unsigned char <SYMBOL>[] and uint64_t <SYMBOL>Size.
# Usage: cmake -DINPUT=f.fatbin -DOUTPUT=f.cpp -DSYMBOL=name -P EmbedFatbin.cmake
if(NOT INPUT OR NOT OUTPUT OR NOT SYMBOL)
  message(FATAL_ERROR "EmbedFatbin.cmake needs INPUT, OUTPUT and SYMBOL")
endif()
file(READ "${INPUT}" _hex HEX)
string(LENGTH "${_hex}" _len)
math(EXPR _bytes "${_len} / 2")
if(_bytes EQUAL 0)
  message(FATAL_ERROR "EmbedFatbin.cmake: ${INPUT} is empty")
endif()
# 32 bytes per line (CMake regexes have no {n}: spell the 32 out).
string(REPEAT "[0-9a-f][0-9a-f]" 32 _line)
string(REGEX REPLACE "(${_line})" "\\1\n" _body "${_hex}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _body "${_body}")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by EmbedFatbin.cmake; do not edit.\n"
  "#include <cstdint>\n"
  "// 64-byte alignment: cuModuleLoadData reads the image in place.\n"
  "alignas(64) extern const unsigned char ${SYMBOL}[${_bytes}] = {\n"
  "${_body}\n};\n"
  "extern const uint64_t ${SYMBOL}Size = ${_bytes};\n")
# Only touch OUTPUT when it changes, so dependents do not rebuild needlessly.
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
