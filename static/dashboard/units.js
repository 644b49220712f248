// Integer base units as decimal text, exactly (no float touches an amount), like ledger/units.py.
"use strict";
window.gtxUnits = function (amount, decimals) {
  let text = String(amount);
  const negative = text.startsWith("-");
  if (negative) text = text.slice(1);
  text = text.padStart(decimals + 1, "0");
  const whole = text.slice(0, text.length - decimals).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const frac = text.slice(text.length - decimals).replace(/0+$/, "");
  return (negative ? "-" : "") + whole + (frac ? "." + frac : "");
};
