#!/usr/bin/env node
// The exercise's WebSocket client, as a Postman user drives the proxy: plain
// `ws` connections, no Origin header, no join, the exercise's JSON frames.
//
//   node tests/node/exercise_ws_client.js ws://127.0.0.1:8080
//   node tests/node/exercise_ws_client.js ws://127.0.0.1:8080 ws://127.0.0.1:8082
//
// With a second URL, client2 connects there: a client of each proxy host of a
// split deployment, chatting in one room.
//
// Prints every frame received as `<client> <json>` and a last line `OK` or
// `FAIL <why>`; exits 0 only when every check passed.
"use strict";
const WebSocket = require("ws");

const url = process.argv[2];
const url2 = process.argv[3] || url;
if (!url) {
  console.error("usage: exercise_ws_client.js ws://host:port [ws://host:port for client2]");
  process.exit(2);
}
const TIMEOUT_MS = Number(process.env.EXERCISE_TIMEOUT_MS || 10000);

function fail(why) {
  console.log(`FAIL ${why}`);
  process.exit(1);
}
const watchdog = setTimeout(() => fail(`timed out after ${TIMEOUT_MS} ms`), TIMEOUT_MS);

// A connection that keeps what it receives and lets the script wait for a frame.
function connect(name, address) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(address);
    const frames = [];
    const waiters = [];
    socket.on("message", (data, isBinary) => {
      const text = data.toString();
      console.log(`${name} ${isBinary ? "(binary) " : ""}${text}`);
      let frame;
      try { frame = JSON.parse(text); } catch { return fail(`${name} got a frame that is not JSON: ${text}`); }
      frames.push(frame);
      for (const w of [...waiters]) {
        if (w.predicate(frame)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(frame); }
      }
    });
    socket.on("error", reject);
    socket.on("open", () => resolve({
      name,
      send: (frame) => socket.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
      waitFor: (predicate) => {
        const found = frames.find(predicate);
        if (found) return Promise.resolve(found);
        return new Promise((res) => waiters.push({ predicate, resolve: res }));
      },
      close: () => socket.close(),
    }));
  });
}

const isMessage = (id) => (f) => f.chat_message && f.chat_message.id === id;

(async () => {
  const client1 = await connect("client1", url);
  // Before sending, wait until the proxy says the chat service is up.
  await client1.waitFor((f) => f.service_status && f.service_status.available === true);

  // The exercise's frame, exactly as the exercise's README shows it.
  client1.send('{"chat_message":{"id":"msg1","room_id":"room1","sender_id":"client1","content":"Hello"}}');
  const echo = (await client1.waitFor(isMessage("msg1"))).chat_message;
  if (echo.room_id !== "room1" || echo.sender_id !== "client1" || echo.content !== "Hello") {
    fail(`echo does not match what was sent: ${JSON.stringify(echo)}`);
  }
  if (!echo.sequence || !echo.timestamp) fail(`echo lacks sequence or timestamp: ${JSON.stringify(echo)}`);

  // A second exercise client in the same room, with lowerCamel field names.
  const client2 = await connect("client2", url2);
  await client2.waitFor((f) => f.service_status && f.service_status.available === true);
  client2.send({ chatMessage: { id: "msg2", roomId: "room1", senderId: "client2", content: "Hi client1" } });
  await client2.waitFor(isMessage("msg2"));
  const seen = (await client1.waitFor(isMessage("msg2"))).chat_message;
  if (seen.sender_id !== "client2" || seen.content !== "Hi client1") fail(`client1 saw ${JSON.stringify(seen)}`);

  // And client2 gets client1's next message.
  client1.send({ chat_message: { id: "msg3", room_id: "room1", sender_id: "client1", content: "Welcome" } });
  await client2.waitFor(isMessage("msg3"));

  clearTimeout(watchdog);
  client1.close();
  client2.close();
  console.log("OK");
  process.exit(0);
})().catch((e) => fail(e && e.message ? e.message : String(e)));
