// The market page's live parts: the zone's order book and the trade tape over the public websockets, and the
// user's own fills and order changes over /ws/me/ (the session cookie logs the socket in). Amounts arrive as
// integer base units and are shown with gtxUnits. Protocol: docs/API.md, "Websockets".
"use strict";
(function () {
  const market = document.getElementById("market");
  if (!market) return;
  const zone = market.dataset.zone;
  const GXT = 9, THB = 6;
  const base = (location.protocol === "https:" ? "wss://" : "ws://") + location.host;

  function connect(path, status, onMessage) {
    const label = document.getElementById(status);
    let socket;
    function open() {
      socket = new WebSocket(base + path);
      socket.onopen = () => { label.textContent = "live"; label.dataset.live = "true"; };
      socket.onmessage = (event) => onMessage(JSON.parse(event.data), socket);
      socket.onclose = () => {
        label.textContent = "reconnecting…";
        label.dataset.live = "false";
        setTimeout(open, 2000);
      };
    }
    open();
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  // -- the book: a snapshot, then deltas numbered without gaps; a gap asks for a fresh snapshot
  const book = {seq: null, buy: new Map(), sell: new Map()};
  function renderBook() {
    for (const [side, id, order] of [["buy", "book-bids", -1], ["sell", "book-asks", 1]]) {
      const body = document.getElementById(id);
      body.replaceChildren();
      const levels = [...book[side].entries()].sort((a, b) => (BigInt(a[0]) < BigInt(b[0]) ? -order : order));
      for (const [price, quantity] of levels) {
        const row = document.createElement("tr");
        row.dataset.price = price;
        cell(row, gtxUnits(price, THB));
        cell(row, gtxUnits(quantity, GXT));
        body.appendChild(row);
      }
      if (!levels.length) {
        const row = document.createElement("tr");
        cell(row, "—").colSpan = 2;
        body.appendChild(row);
      }
    }
  }
  connect("/ws/book/" + encodeURIComponent(zone) + "/", "book-status", (m, socket) => {
    if (m.type === "snapshot") {
      book.seq = m.seq;
      book.buy = new Map(m.bids.map(([p, q]) => [String(p), String(q)]));
      book.sell = new Map(m.asks.map(([p, q]) => [String(p), String(q)]));
    } else if (m.type === "delta") {
      if (book.seq === null || m.seq !== book.seq + 1) {
        socket.send(JSON.stringify({action: "resync"}));
        return;
      }
      book.seq = m.seq;
      if (String(m.quantity) === "0") book[m.side].delete(String(m.price));
      else book[m.side].set(String(m.price), String(m.quantity));
    } else {
      return;
    }
    renderBook();
  });

  // -- the trade tape: the zone's trades (delivered into it or sent from it), newest first; the page brings the
  // latest ones, the socket the rest
  const shown = new Set();
  function addTrade(m) {
    if (shown.has(m.id) || (m.buyer_zone !== zone && m.seller_zone !== zone)) return;
    shown.add(m.id);
    const row = document.createElement("tr");
    row.dataset.trade = m.id;
    cell(row, new Date(m.created_at).toLocaleTimeString());
    cell(row, m.seller_zone + " → " + m.buyer_zone);
    cell(row, gtxUnits(m.quantity, GXT));
    cell(row, gtxUnits(m.price, THB));
    cell(row, gtxUnits(m.landed, THB));
    const tape = document.getElementById("tape");
    tape.prepend(row);
    while (tape.rows.length > 50) tape.deleteRow(-1);
  }
  JSON.parse(document.getElementById("tape-data").textContent).forEach(addTrade);
  connect("/ws/trades/", "tape-status", (m) => {
    if (m.type === "trade") addTrade(m);
  });

  // -- the user's own events: fills as they happen; an order's change refreshes the open orders and balances
  connect("/ws/me/", "me-status", (m) => {
    if (m.type === "fill") {
      const row = document.createElement("tr");
      row.dataset.fill = m.trade_id;
      cell(row, new Date(m.created_at).toLocaleTimeString());
      cell(row, m.side);
      cell(row, m.seller_zone + " → " + m.buyer_zone);
      cell(row, gtxUnits(m.quantity, GXT));
      cell(row, gtxUnits(m.effective, GXT));
      cell(row, gtxUnits(m.price, THB));
      cell(row, gtxUnits(m.value, THB));
      cell(row, gtxUnits(m.fee, THB));
      cell(row, gtxUnits(m.wheeling, THB));
      const link = document.createElement("a");
      link.href = "/explorer/tx/" + encodeURIComponent(m.ledger_signature) + "/";
      link.textContent = m.ledger_signature.slice(0, 12) + "…";
      cell(row, "").appendChild(link);
      document.getElementById("fills").prepend(row);
    } else if (m.type === "order") {
      htmx.trigger("#open-orders", "refresh");
      htmx.trigger("#balances", "refresh");
    }
  });
})();
