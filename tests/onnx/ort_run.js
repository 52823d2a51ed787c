// Runs an ONNX file in onnxruntime (onnxruntime-node) for tests/test-export.cpp.
//
//   node ort_run.js ORT_NODE_MODULES CASE.json
//
// CASE.json: {"model": "m.onnx", "runs": [{"prefix": "dir/b3", "inputs": {"input": {"file": "x.bin",
//             "type": "float32" | "uint8", "dims": [3, 3, 16, 16]}}}]}
// For each run, every output is written as raw little-endian float32 to <prefix>.<output>.bin and the output
// dimensions to <prefix>.json ({"<output>": [dims]}). One intra-op thread, as the tests pin libtorch to one.
// Exits 1 with the reason on stderr when anything fails.
'use strict';
const fs = require('fs');
const path = require('path');

async function main() {
  const [modulesDir, casePath] = process.argv.slice(2);
  if (!modulesDir || !casePath) throw new Error('usage: node ort_run.js ORT_NODE_MODULES CASE.json');
  const ort = require(path.join(modulesDir, 'onnxruntime-node'));
  const spec = JSON.parse(fs.readFileSync(casePath, 'utf8'));
  const session = await ort.InferenceSession.create(spec.model, {intraOpNumThreads: 1, interOpNumThreads: 1});
  for (const run of spec.runs) {
    const feeds = {};
    for (const [name, t] of Object.entries(run.inputs)) {
      const bytes = fs.readFileSync(t.file);
      const data = t.type === 'uint8'
        ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)
        : new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
      feeds[name] = new ort.Tensor(t.type, data, t.dims);
    }
    const results = await session.run(feeds);
    const dims = {};
    for (const [name, tensor] of Object.entries(results)) {
      const f32 = Float32Array.from(tensor.data);
      fs.writeFileSync(`${run.prefix}.${name}.bin`, Buffer.from(f32.buffer));
      dims[name] = tensor.dims;
    }
    fs.writeFileSync(`${run.prefix}.json`, JSON.stringify(dims));
  }
}

main().catch((e) => {
  process.stderr.write(`ort_run: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
