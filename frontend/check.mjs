// The committed SDL as a front end sees it: graphql-js must accept it as a valid schema, and
// GraphQL Code Generator must type the operations in operations/ against it. `tsc --strict`
// then compiles src/, which uses the generated types (see package.json's "check").
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { codegen } from "@graphql-codegen/core";
import * as typescriptOperations from "@graphql-codegen/typescript-operations";
import { buildSchema, parse, validate, validateSchema } from "graphql";

const sdl = readFileSync(new URL("../schema/schema.graphql", import.meta.url), "utf8");
const schema = buildSchema(sdl);
const schemaErrors = validateSchema(schema);
if (schemaErrors.length) {
  console.error(schemaErrors.map(String).join("\n"));
  process.exit(1);
}

const folder = new URL("operations/", import.meta.url);
const documents = readdirSync(folder)
  .filter((name) => name.endsWith(".graphql"))
  .sort()
  .map((name) => ({ location: name, document: parse(readFileSync(new URL(name, folder), "utf8")) }));
let invalid = false;
for (const { location, document } of documents) {
  for (const error of validate(schema, document)) {
    console.error(`${location}: ${error}`);
    invalid = true;
  }
}
if (invalid) process.exit(1);

const output = await codegen({
  filename: "src/generated.ts",
  schema: parse(sdl),
  documents,
  // Every custom scalar must be mapped: a new one (or a DateTime codegen cannot place) fails.
  config: { strictScalars: true, scalars: { DateTime: "string", JSON: "unknown" }, enumsAsTypes: true },
  plugins: [{ typescriptOperations: {} }],
  pluginMap: { typescriptOperations },
});
writeFileSync(new URL("src/generated.ts", import.meta.url), output);
const types = schema.getTypeMap();
const count = Object.keys(types).filter((name) => !name.startsWith("__")).length;
console.log(`schema valid (${count} types); ${documents.length} operation files typed`);
