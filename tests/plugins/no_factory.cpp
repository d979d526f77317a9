// A shared library that is not a chat-host plugin: it exports nothing the host looks for.
extern "C" __attribute__((visibility("default"))) int not_a_plugin() { return 42; }
