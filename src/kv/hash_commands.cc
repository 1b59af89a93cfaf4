#include "kv/command.h"

namespace tandem::kv {

std::span<const CommandSpec> HashCommands() { return {}; }

}  // namespace tandem::kv
