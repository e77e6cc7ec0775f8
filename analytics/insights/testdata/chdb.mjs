// Runs SQL on chdb — current ClickHouse's engine, in-process — for TestCurrentEngine. One JSON request per line on
// stdin ({"sql": "…"}), one JSON answer per line on stdout ({"data": "<JSONCompactEachRowWithNamesAndTypes>"} or
// {"error": "…"}). Usage: node chdb.mjs SESSION_DIR, with CHDB_DIR holding node_modules/chdb.
import { createRequire } from "node:module";
import readline from "node:readline";

const { Session } = createRequire(process.env.CHDB_DIR + "/")("chdb");
const session = new Session(process.argv[2]);
const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
	let answer;
	try {
		const { sql } = JSON.parse(line);
		answer = { data: session.query(sql, "JSONCompactEachRowWithNamesAndTypes") };
	} catch (e) {
		answer = { error: String((e && e.message) || e) };
	}
	process.stdout.write(JSON.stringify(answer) + "\n");
}
