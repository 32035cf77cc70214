// A WebSocket that stays open: it reconnects with backoff after a drop, asking for a
// fresh single-use ticket each time (the session cookie alone would do on the same
// origin; the ticket also works behind proxies that strip cookies from upgrades).
import { api, SESSION_EXPIRED } from "./client";

export type SocketState = "connecting" | "open" | "closed";

export interface LiveSocketOptions<M> {
  path: string; // e.g. /ws/training/<id>
  onMessage: (message: M) => void;
  onState?: (state: SocketState) => void;
  /** Codes after which reconnecting cannot help (refused for good). */
  finalCodes?: number[];
}

const FINAL = [4401, 4403, 4404];

export class LiveSocket<M> {
  private socket: WebSocket | null = null;
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(private readonly options: LiveSocketOptions<M>) {
    void this.connect();
  }

  private async connect() {
    if (this.closed) return;
    this.options.onState?.("connecting");
    let query = "";
    try {
      const { data, response } = await api.POST("/api/auth/ws-ticket/");
      if (response.status === 401) return; // the client's middleware reports the expiry
      if (data?.ticket) query = `?ticket=${encodeURIComponent(data.ticket)}`;
    } catch {
      this.retry();
      return;
    }
    if (this.closed) return;
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}${this.options.path}${query}`);
    this.socket = socket;
    socket.onopen = () => {
      this.attempts = 0;
      this.options.onState?.("open");
    };
    socket.onmessage = (event) => {
      if (typeof event.data !== "string") return;
      this.options.onMessage(JSON.parse(event.data) as M);
    };
    socket.onclose = (event) => {
      this.socket = null;
      this.options.onState?.("closed");
      if (this.closed) return;
      if (event.code === 4401) window.dispatchEvent(new Event(SESSION_EXPIRED));
      if ([...FINAL, ...(this.options.finalCodes ?? [])].includes(event.code)) return;
      this.retry();
    };
  }

  private retry() {
    if (this.closed) return;
    const delay = Math.min(10_000, 250 * 2 ** this.attempts) * (0.75 + Math.random() / 2);
    this.attempts += 1;
    this.timer = setTimeout(() => void this.connect(), delay);
  }

  send(message: unknown) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  close() {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.close(1000);
  }
}
