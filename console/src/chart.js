// An ECharts chart in the element `el` (a template ref), the same way on every page: `draw()`
// sets `option()` (null: nothing to draw yet) once the page has updated, and again when the
// language changes; the chart follows its element's size (a window resized, a drawer sliding in)
// and is disposed with the page. Each page registers the ECharts parts it uses (`echarts.use`),
// so a page without a chart loads none of them.
import * as echarts from 'echarts/core'
import { nextTick, onBeforeUnmount, watch } from 'vue'
import { useI18n } from 'vue-i18n'

export function useChart(el, option) {
  const { locale } = useI18n()
  let chart = null
  let observer = null

  function forget() {
    observer?.disconnect()
    chart?.dispose()
    observer = null
    chart = null
  }

  async function draw() {
    await nextTick()
    const wanted = option()
    if (!wanted || !el.value) return
    // The element is drawn anew when a v-if brings it back: the chart moves with it.
    if (chart && chart.getDom() !== el.value) forget()
    if (!chart) {
      chart = echarts.init(el.value)
      observer = new ResizeObserver(() => chart?.resize())
      observer.observe(el.value)
    }
    chart.setOption(wanted, true)
    chart.resize()
  }

  watch(locale, draw)
  onBeforeUnmount(forget)
  return { draw }
}
