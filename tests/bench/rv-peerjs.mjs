// rv-peerjs.mjs: runs the PeerJS server (npm package "peer") for rv.sh on
// HOST:PORT (port 0 picks one) and prints "ready http=HOST:PORT" when it
// listens.  No limit on clients: the benchmark counts what it can hold.
//
//   NODE_PATH=... node rv-peerjs.mjs MODULE_DIR HOST PORT
import { createRequire } from "node:module";

const [dir, host, port] = process.argv.slice(2);
const require = createRequire(dir + "/");
const { PeerServer } = require("peer");

const server = PeerServer({
	host: host,
	port: Number(port),
	path: "/",
	key: "peerjs",
	concurrent_limit: 1000000,
}, (srv) => {
	const a = srv.address();
	process.stdout.write(`ready http=${a.address}:${a.port}\n`);
});
server.on("error", (e) => process.stderr.write(`rv-peerjs: ${e}\n`));
process.on("SIGTERM", () => process.exit(0));
