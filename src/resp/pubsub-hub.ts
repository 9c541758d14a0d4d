/**
 * Pub/Sub routing. Channels are scoped to an instance (instances are tenants: a PUBLISH on
 * instance 1 never reaches subscribers of instance 2), so the hub keys every channel and pattern
 * by `<instance index>\0<name>`.
 */

import { Push } from "../engine/reply.ts";
import { globMatch } from "../glob.ts";
import type { Session } from "./session.ts";

const scoped = (instance: number, name: string): string => `${instance}\0${name}`;

export class PubSubHub {
  private readonly channels = new Map<string, Set<Session>>();
  private readonly patterns = new Map<string, Set<Session>>();

  subscribe(s: Session, instance: number, channel: string): void {
    const k = scoped(instance, channel);
    let set = this.channels.get(k);
    if (set === undefined) this.channels.set(k, (set = new Set()));
    set.add(s);
  }

  unsubscribe(s: Session, instance: number, channel: string): void {
    const k = scoped(instance, channel);
    const set = this.channels.get(k);
    if (set === undefined) return;
    set.delete(s);
    if (set.size === 0) this.channels.delete(k);
  }

  psubscribe(s: Session, instance: number, pattern: string): void {
    const k = scoped(instance, pattern);
    let set = this.patterns.get(k);
    if (set === undefined) this.patterns.set(k, (set = new Set()));
    set.add(s);
  }

  punsubscribe(s: Session, instance: number, pattern: string): void {
    const k = scoped(instance, pattern);
    const set = this.patterns.get(k);
    if (set === undefined) return;
    set.delete(s);
    if (set.size === 0) this.patterns.delete(k);
  }

  /** Delivers a message; returns the number of receivers (as PUBLISH replies). */
  publish(instance: number, channel: string, message: Buffer): number {
    let n = 0;
    const ch = Buffer.from(channel, "latin1");
    const direct = this.channels.get(scoped(instance, channel));
    if (direct !== undefined) {
      for (const s of direct) {
        s.push(new Push([Buffer.from("message"), ch, message]));
        n++;
      }
    }
    const prefix = `${instance}\0`;
    for (const [k, set] of this.patterns) {
      if (!k.startsWith(prefix)) continue;
      const pattern = k.slice(prefix.length);
      if (!globMatch(pattern, channel)) continue;
      const pat = Buffer.from(pattern, "latin1");
      for (const s of set) {
        s.push(new Push([Buffer.from("pmessage"), pat, ch, message]));
        n++;
      }
    }
    return n;
  }

  /** Active channels of an instance matching an optional pattern (PUBSUB CHANNELS). */
  activeChannels(instance: number, pattern: string | null): string[] {
    const prefix = `${instance}\0`;
    const out: string[] = [];
    for (const k of this.channels.keys()) {
      if (!k.startsWith(prefix)) continue;
      const name = k.slice(prefix.length);
      if (pattern === null || globMatch(pattern, name)) out.push(name);
    }
    return out;
  }

  /** Channels with at least one subscriber, across instances (INFO stats). */
  get channelCount(): number {
    return this.channels.size;
  }

  get totalPatterns(): number {
    return this.patterns.size;
  }

  subscriberCount(instance: number, channel: string): number {
    return this.channels.get(scoped(instance, channel))?.size ?? 0;
  }

  patternCount(instance: number): number {
    const prefix = `${instance}\0`;
    let n = 0;
    for (const k of this.patterns.keys()) if (k.startsWith(prefix)) n++;
    return n;
  }

  /** Drops every subscription of a session (disconnect, RESET). */
  dropSession(s: Session, instance: number): void {
    for (const c of s.channels) this.unsubscribe(s, instance, c);
    for (const p of s.patterns) this.punsubscribe(s, instance, p);
    s.channels.clear();
    s.patterns.clear();
  }
}
