// Validates every object of rendered manifests (helm template's output)
// against the Kubernetes schemas of kubernetes-models (and, for
// ServiceMonitor, @kubernetes-models/prometheus-operator), and writes them as
// one JSON array for the checks that follow.
//
//   node tools/helm/validate.mjs --modules DIR [--json OUT] FILE...
//
// DIR is the node_modules that tools/helm/fetch.sh installed
// (`fetch.sh --node-path`). Prints "ok <apiVersion> <kind> <name>" per
// object; any schema error, an object of a kind no model covers, or a
// document that is not an object is printed on stderr and the exit status is
// 1. Exit status 2: usage or unreadable input.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

function usage(why) {
    process.stderr.write(`validate.mjs: ${why}\nusage: validate.mjs --modules DIR [--json OUT] FILE...\n`);
    process.exit(2);
}

const args = process.argv.slice(2);
let modules = "", jsonOut = "";
const files = [];
for (let i = 0; i < args.length; i++) {
    if (args[i] === "--modules") modules = args[++i] ?? "";
    else if (args[i] === "--json") jsonOut = args[++i] ?? "";
    else files.push(args[i]);
}
if (!modules || files.length === 0) usage("needs --modules and at least one file");

const load = (pkg, sub) => import(pathToFileURL(join(modules, pkg, sub, "index.js")).href);
const YAML = await import(pathToFileURL(join(modules, "yaml/dist/index.js")).href);

// apiVersion "group/version" (or "v1" for the core group) to its models
async function modelsFor(apiVersion) {
    if (apiVersion.startsWith("monitoring.coreos.com/"))
        return load("@kubernetes-models/prometheus-operator", apiVersion);
    return load("kubernetes-models", apiVersion);
}

const objects = [];
let errors = 0;
const fail = (where, why) => {
    errors++;
    process.stderr.write(`not valid: ${where}: ${why}\n`);
};

for (const file of files) {
    let text;
    try {
        text = readFileSync(file, "utf8");
    } catch (e) {
        usage(`${file}: ${e.message}`);
    }
    for (const doc of YAML.parseAllDocuments(text)) {
        if (doc.errors.length) {
            fail(file, `YAML: ${doc.errors[0].message}`);
            continue;
        }
        const obj = doc.toJS();
        if (obj === null || obj === undefined) continue; // an empty document (a template that rendered nothing)
        if (typeof obj !== "object" || Array.isArray(obj)) {
            fail(file, "a document that is not an object");
            continue;
        }
        const where = `${file}: ${obj.apiVersion} ${obj.kind} ${obj.metadata?.name ?? "(no name)"}`;
        let Model;
        try {
            Model = (await modelsFor(String(obj.apiVersion)))[obj.kind];
        } catch (e) {
            Model = undefined;
        }
        if (typeof Model !== "function") {
            fail(where, "no schema for this apiVersion and kind");
            continue;
        }
        try {
            new Model(obj).validate();
            objects.push(obj);
            process.stdout.write(`ok ${obj.apiVersion} ${obj.kind} ${obj.metadata?.name}\n`);
        } catch (e) {
            fail(where, e.message);
        }
    }
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(objects, null, 1) + "\n");
process.exit(errors ? 1 : 0);
