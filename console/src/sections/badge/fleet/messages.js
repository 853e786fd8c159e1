export default {
  'zh-Hant': { nav: {} },
  'zh-Hans': { nav: {} },
  en: { nav: {} },
}
