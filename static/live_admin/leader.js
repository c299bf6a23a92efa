/* django-live-admin: one connection per browser without a SharedWorker — one tab leads. The tab
 * that holds the "live-admin-leader" lock runs the multiplexer (shared.js) in its page; the
 * others reach it over a BroadcastChannel, each through a port addressed by its tab id. When the
 * leading tab goes, the lock passes to another tab, which says it leads: the tabs that followed
 * the old one come back through it, with their cursors. A native ES module: no build step. */

import { Multiplexer, hubEnv } from "./shared.js";

export const LEADER_LOCK = "live-admin-leader";
const CHANNEL = "live-admin-leader";
const LEADER = "leader"; // the address of whichever tab leads

/** A following tab's port to the leading tab. */
class FollowerPort {
  constructor(channel, tab) {
    this.channel = channel;
    this.tab = tab;
    this.leader = null; // the tab that answered
    this.onmessage = null;
  }

  postMessage(data) {
    this.channel.postMessage({ to: LEADER, from: this.tab, data });
  }

  hear(from, data) {
    if (this.leader === null) this.leader = from;
    if (from === this.leader && this.onmessage) this.onmessage({ data });
  }

  /** Another tab leads now: this port's leader is gone, or never was. */
  led(by) {
    if (by !== this.leader && this.onmessage) this.onmessage({ data: { op: "close", code: 1006, local: true } });
  }
}

/** The leading tab's port to a following one. */
class LeaderPort {
  constructor(channel, from, to) {
    this.channel = channel;
    this.from = from;
    this.to = to;
    this.onmessage = null;
  }

  postMessage(data) {
    this.channel.postMessage({ to: this.to, from: this.from, data });
  }
}

export class Leadership {
  /** ``tab``: this tab's id; ``scope``: the page's globals (BroadcastChannel, MessageChannel,
   * navigator.locks, and what the multiplexer needs). */
  constructor(tab, scope) {
    this.tab = tab;
    this.scope = scope;
    this.channel = new scope.BroadcastChannel(CHANNEL);
    this.channel.onmessage = (event) => this.heard(event.data);
    this.hub = null; // the multiplexer, once this tab leads
    this.followers = new Map(); // tab id -> its LeaderPort
    this.port = null; // this tab's port while it follows
    this.leader = null; // the tab last said to lead, if this tab heard it
    scope.navigator.locks.request(LEADER_LOCK, () => {
      this.lead();
      return new Promise(() => {}); // held while the tab lives
    }).catch(() => {}); // refused (a sandboxed frame): nobody answers, each tab goes its own way
  }

  lead() {
    const env = hubEnv(this.scope);
    const gone = env.gone;
    env.gone = (tab, then) => gone(tab, () => {
      this.followers.delete(tab);
      then();
    });
    this.hub = new Multiplexer(env);
    this.channel.postMessage({ leads: this.tab });
    // This tab's own port went to the tab that led before: it comes back, to its own page.
    if (this.port) this.port.led(this.tab);
    this.port = null;
  }

  heard(envelope) {
    if (!envelope || typeof envelope !== "object") return;
    if (envelope.leads) {
      this.leader = envelope.leads;
      if (this.port) this.port.led(envelope.leads);
    } else if (envelope.to === LEADER) {
      if (this.hub) this.follower(envelope.from, envelope.data);
    } else if (envelope.to === this.tab && this.port) {
      // A late word of a tab that led before is not this port's leader's.
      if (this.leader === null || envelope.from === this.leader) this.port.hear(envelope.from, envelope.data);
    }
  }

  /** A following tab's message: its "open" makes it a new port, as a SharedWorker's connect. */
  follower(from, data) {
    let port = this.followers.get(from);
    if (data && data.op === "open") {
      port = new LeaderPort(this.channel, this.tab, from);
      this.followers.set(from, port);
      this.hub.connect(port);
    }
    if (port && port.onmessage) port.onmessage({ data });
  }

  /** A new port for this tab's connection: to its own page's multiplexer if it leads. */
  open() {
    if (this.hub) {
      const pair = new this.scope.MessageChannel();
      this.hub.connect(pair.port2);
      return pair.port1;
    }
    this.port = new FollowerPort(this.channel, this.tab);
    return this.port;
  }
}
