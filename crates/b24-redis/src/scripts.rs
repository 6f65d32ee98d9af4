//! The Lua scripts, one per operation (see `src/lua/`). Each runs atomically on the
//! server; the client sends `EVALSHA` and loads a script the server does not know.

use std::sync::LazyLock;

use redis::Script;

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub(crate) static $name: LazyLock<Script> =
            LazyLock::new(|| Script::new(include_str!(concat!("lua/", $file))));
    };
}

script!(RESERVE, "reserve.lua");
script!(THROTTLED, "throttled.lua");
script!(BUDGET_CHECK, "budget_check.lua");
script!(BUDGET_RECORD, "budget_record.lua");
script!(BUDGET_BLOCK, "budget_block.lua");
script!(TOKEN_REPLACE, "token_replace.lua");
script!(TOKEN_BEGIN_REFRESH, "token_begin_refresh.lua");
script!(TOKEN_END_REFRESH, "token_end_refresh.lua");
