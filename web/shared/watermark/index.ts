/**
 * Full-page watermark for leak tracing: viewer's name + last four digits of their phone +
 * current time (refreshed every minute), tiled, semi-transparent, above all content and
 * transparent to the pointer.
 *
 * Removing or hiding it through the DOM (deleting the node, changing its style or
 * attributes, hiding the parent) redraws it at once: a MutationObserver watches the element
 * and its parent, and a short poll of the computed style catches hiding through stylesheets.
 */
import { formatMinute } from '../utils/date'

export interface WatermarkOptions {
  /** lines of text; called at every redraw so the time is current */
  text: () => string[]
  /** element to attach to; default document.body */
  container?: HTMLElement
  zIndex?: number
  /** tile size in CSS pixels */
  gap?: [number, number]
}

const ID = 'zd-watermark'

const STYLE_PROPS: [string, string][] = [
  ['position', 'fixed'],
  ['inset', '0px'],
  ['top', '0px'],
  ['left', '0px'],
  ['width', '100vw'],
  ['height', '100vh'],
  ['pointer-events', 'none'],
  ['display', 'block'],
  ['visibility', 'visible'],
  ['opacity', '1'],
  ['background-repeat', 'repeat'],
  ['transform', 'none'],
  ['filter', 'none'],
  ['clip-path', 'none'],
  ['margin', '0'],
  ['padding', '0'],
  ['border', '0'],
]

function renderTile(lines: string[], gap: [number, number]): { url: string; width: number; height: number } {
  const ratio = Math.max(1, Math.min(3, window.devicePixelRatio || 1))
  const [w, h] = gap
  const canvas = document.createElement('canvas')
  canvas.width = w * ratio
  canvas.height = h * ratio
  const ctx = canvas.getContext('2d')
  if (!ctx) return { url: '', width: w, height: h }
  ctx.scale(ratio, ratio)
  ctx.translate(w / 2, h / 2)
  ctx.rotate((-20 * Math.PI) / 180)
  ctx.font = '14px "WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif'
  ctx.fillStyle = 'rgba(100, 100, 100, 0.16)'
  ctx.textAlign = 'center'
  ctx.textBaseline = 'middle'
  const lineHeight = 20
  const top = -((lines.length - 1) * lineHeight) / 2
  lines.forEach((line, i) => ctx.fillText(line, 0, top + i * lineHeight))
  return { url: canvas.toDataURL('image/png'), width: w, height: h }
}

export class Watermark {
  private el: HTMLDivElement | null = null
  private observer: MutationObserver | null = null
  private minuteTimer: number | undefined
  private pollTimer: number | undefined
  private tile: { url: string; width: number; height: number } | null = null
  private lines: string[] = []
  private readonly options: Required<Omit<WatermarkOptions, 'container'>> & { container?: HTMLElement }
  private running = false
  /** how many times the mark was restored after tampering (for diagnostics and tests) */
  restored = 0

  constructor(options: WatermarkOptions) {
    this.options = { zIndex: 2147483000, gap: [220, 150], ...options }
  }

  get container(): HTMLElement {
    return this.options.container ?? document.body
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.refreshText()
    this.draw()
    // refresh the time on the minute
    const untilNextMinute = 60_000 - (Date.now() % 60_000) + 50
    this.minuteTimer = window.setTimeout(() => {
      this.refreshText()
      this.draw()
      this.minuteTimer = window.setInterval(() => {
        this.refreshText()
        this.draw()
      }, 60_000)
    }, untilNextMinute)
    this.pollTimer = window.setInterval(() => this.checkVisible(), 1000)
  }

  stop(): void {
    this.running = false
    window.clearTimeout(this.minuteTimer)
    window.clearInterval(this.minuteTimer)
    window.clearInterval(this.pollTimer)
    this.observer?.disconnect()
    this.observer = null
    this.el?.remove()
    this.el = null
  }

  /** Redraw with fresh text (e.g. after `me` changed). */
  update(): void {
    if (!this.running) return
    this.refreshText()
    this.draw()
  }

  private refreshText(): void {
    this.lines = this.options.text()
    this.tile = renderTile(this.lines, this.options.gap)
  }

  private applyStyle(el: HTMLElement): void {
    el.removeAttribute('style')
    el.removeAttribute('class')
    el.removeAttribute('hidden')
    for (const [prop, value] of STYLE_PROPS) el.style.setProperty(prop, value, 'important')
    el.style.setProperty('z-index', String(this.options.zIndex), 'important')
    if (this.tile) {
      el.style.setProperty('background-image', `url("${this.tile.url}")`, 'important')
      el.style.setProperty('background-size', `${this.tile.width}px ${this.tile.height}px`, 'important')
    }
  }

  /** (Re)create the element and watch it. */
  private draw(): void {
    this.observer?.disconnect()
    this.el?.remove()
    const el = document.createElement('div')
    el.id = ID
    el.setAttribute('aria-hidden', 'true')
    el.dataset.watermark = this.lines.join(' ')
    this.applyStyle(el)
    this.container.appendChild(el)
    this.el = el
    this.observe()
  }

  private observe(): void {
    const el = this.el
    if (!el) return
    const parent = this.container
    this.observer = new MutationObserver((records) => {
      const tampered = records.some((r) => {
        if (r.target === el) return true
        if (r.type === 'childList') return Array.from(r.removedNodes).includes(el)
        // the parent's attributes change all the time (UI libraries lock scrolling through
        // body classes): only a hidden parent counts
        return r.target === parent && r.type === 'attributes' && this.isHidden(parent)
      })
      if (tampered) this.restore()
    })
    this.observer.observe(el, { attributes: true, childList: true, characterData: true, subtree: true })
    this.observer.observe(parent, { childList: true, attributes: true, attributeFilter: ['style', 'class', 'hidden'] })
  }

  private restore(): void {
    if (!this.running) return
    this.restored += 1
    this.draw()
    this.ensureParentVisible()
  }

  private isHidden(node: HTMLElement): boolean {
    const cs = getComputedStyle(node)
    return cs.display === 'none' || cs.visibility === 'hidden' || parseFloat(cs.opacity) < 0.99
  }

  private ensureParentVisible(): void {
    const parent = this.container
    if (this.isHidden(parent)) {
      // the page itself was hidden: hide nothing — just make sure nothing is shown without the mark
      parent.style.removeProperty('display')
      parent.style.removeProperty('visibility')
      parent.style.removeProperty('opacity')
    }
  }

  /** Hiding through a stylesheet rule does not touch the element: compare the computed style. */
  private checkVisible(): void {
    const el = this.el
    if (!el || !el.isConnected || el.parentNode !== this.container) {
      this.restore()
      return
    }
    const cs = getComputedStyle(el)
    if (
      cs.display === 'none' ||
      cs.visibility !== 'visible' ||
      parseFloat(cs.opacity) < 0.99 ||
      cs.position !== 'fixed' ||
      cs.pointerEvents !== 'none' ||
      el.getBoundingClientRect().width < window.innerWidth / 2 ||
      el.getBoundingClientRect().height < window.innerHeight / 2 ||
      !cs.backgroundImage.startsWith('url(')
    ) {
      this.restore()
    }
  }
}

/** Lines for the viewer: "张三 8000" and the time to the minute. */
export function watermarkLines(name: string | undefined, phoneLast4: string | undefined): string[] {
  return [`${name ?? ''} ${phoneLast4 ?? ''}`.trim() || '政钉', formatMinute(new Date())]
}

let current: Watermark | null = null

/** One watermark per page, for the signed-in user. */
export function showWatermark(text: () => string[]): Watermark {
  current?.stop()
  current = new Watermark({ text })
  current.start()
  return current
}

export function hideWatermark(): void {
  current?.stop()
  current = null
}
