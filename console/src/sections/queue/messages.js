export default {
  'zh-Hant': { title: '排隊叫號', summary: '店家的櫃台：每家店的隊伍即時更新，叫號、服務、完成、過號，以及與顧客的對話。', nav: {} },
  'zh-Hans': { title: '排队叫号', summary: '店家的柜台：每家店的队伍实时更新，叫号、服务、完成、过号，以及与顾客的对话。', nav: {} },
  en: { title: 'Queue', summary: "A store owner's counter: each line live, call next, serve, complete, no-show, and the chats.", nav: {} },
}
