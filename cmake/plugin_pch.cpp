// The one file of chat_plugin_pch, the target that builds the plugins'
// precompiled header (cmake/plugin_pch.hpp) for the targets that share it.
