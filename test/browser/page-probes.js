// Measurements taken inside the page (plain browser JavaScript, injected by demo.test.ts with
// addInitScript, so it exists before the page's own script runs).
window.probes = {
  /** Every text the element with this id shows, in order (recorded from the moment it exists). */
  statuses: [],
  recordStatuses(id) {
    document.addEventListener("DOMContentLoaded", () => {
      const element = document.getElementById(id);
      new MutationObserver(() => window.probes.statuses.push(element.textContent ?? "")).observe(element, {
        childList: true, characterData: true, subtree: true,
      });
    });
  },

  /** The document's width including anything that sticks out sideways. */
  pageWidth() {
    return Math.max(document.documentElement.scrollWidth, document.body.scrollWidth);
  },

  /**
   * WCAG contrast ratio of an element's text against what is behind it, from computed styles: the
   * text colour (its alpha times every ancestor's opacity) blended over the first opaque background.
   */
  contrastOf(selector) {
    const element = document.querySelector(selector);
    const rgba = (css) => {
      const [r, g, b, a = 1] = (css.match(/[\d.]+/g) ?? []).map(Number);
      return { r, g, b, a };
    };
    let opacity = 1;
    let background = null;
    for (let e = element; e; e = e.parentElement) {
      const style = getComputedStyle(e);
      opacity *= Number(style.opacity);
      const bg = rgba(style.backgroundColor);
      if (!background && bg.a === 1) background = bg;
    }
    background ??= { r: 255, g: 255, b: 255, a: 1 };
    const fg = rgba(getComputedStyle(element).color);
    const alpha = fg.a * opacity;
    const mix = (f, b) => f * alpha + b * (1 - alpha);
    const seen = { r: mix(fg.r, background.r), g: mix(fg.g, background.g), b: mix(fg.b, background.b) };
    const luminance = ({ r, g, b }) => {
      const lin = (c) => (c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
      return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    };
    const [l1, l2] = [luminance(seen), luminance(background)].sort((x, y) => y - x);
    return { ratio: (l1 + 0.05) / (l2 + 0.05), color: getComputedStyle(element).color, opacity, background };
  },
};
