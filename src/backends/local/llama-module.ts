// node-llama-cpp is loaded the first time a local model is needed, and only then: it is large and
// native, and an ES module that the built program (one CommonJS file, scripts/bundle.mjs) loads
// with import() rather than require(). Everything else imports its types only.
type NodeLlamaCpp = typeof import("node-llama-cpp");

let loading: Promise<NodeLlamaCpp> | undefined;
let loaded: NodeLlamaCpp | undefined;

export function loadNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  loading ??= import("node-llama-cpp").then((m) => (loaded = m));
  return loading;
}

/** The module once loadNodeLlamaCpp has resolved: for code that only runs on a loaded model. */
export function loadedNodeLlamaCpp(): NodeLlamaCpp {
  if (!loaded) throw new Error("node-llama-cpp is used before it was loaded");
  return loaded;
}
