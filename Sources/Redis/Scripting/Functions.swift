import CLua
import Glibc

/// A library loaded by FUNCTION LOAD: its code and the functions it registered.
final class FunctionLibrary {
    let name: [UInt8]
    let code: [UInt8]
    var functions: [ScriptFunction] = []

    init(name: [UInt8], code: [UInt8]) {
        self.name = name
        self.code = code
    }
}

/// One function of a library: name, flags, description, and its Lua callback.
struct ScriptFunction {
    let name: [UInt8]
    let description: [UInt8]?
    let flags: ScriptFlags
    /// Registry reference of the callback in the interpreter that loaded it.
    let ref: Int32
}

extension Engine {
    /// Loaded libraries in load order (kept across SCRIPT FLUSH, which rebuilds the
    /// interpreter).
    var functionLibraries: [FunctionLibrary] { scripting?.libraries ?? [] }

    /// Loads `libraries` into a fresh interpreter (after SCRIPT FLUSH).
    func reloadFunctionLibraries(_ libraries: [FunctionLibrary]) {
        for lib in libraries {
            _ = loadFunctionLibrary(lib.code, replace: true)
        }
    }

    func registerFunctionCallback(_ L: OpaquePointer, _ s: ScriptingState) -> Int32 {
        luaPushError(L, "redis.register_function can only be called on FUNCTION LOAD command")
        return -1
    }

    func loadFunctionLibrary(_ code: [UInt8], replace: Bool) -> Result<[UInt8], ShebangError> {
        .failure(ShebangError("ERR not yet"))
    }
}
