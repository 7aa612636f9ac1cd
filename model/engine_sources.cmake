# The simulation engine: fibers on Boost.Context, strategies, replay, traces.
find_package(Boost 1.74 REQUIRED COMPONENTS context)
target_sources(snplab_model PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/engine.cc)
target_link_libraries(snplab_model PUBLIC Boost::context)
