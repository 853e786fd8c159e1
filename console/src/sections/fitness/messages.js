export default {
  'zh-Hant': {
    title: '健身',
    summary: '所有使用者的運動紀錄（依裝置的指標定義展開），以及使用者。',
    nav: { sessions: '運動紀錄', users: '使用者' },
    session: {
      start: '開始時間', user: '使用者', device: '裝置', source: '來源', duration: '時間', calories: '熱量 (kcal)',
      distance: '距離 (m)', allDevices: '全部裝置', allSources: '全部來源', metrics: '指標摘要',
      noMetrics: '這筆紀錄沒有指標摘要。', unknown: '沒有定義',
    },
    source: { free: '自由訓練', backend: '後台課程', local: '內建課程' },
    user: {
      id: '編號', email: '電子郵件', name: '名稱', admin: '管理員', active: '啟用', created: '註冊時間',
      searchHint: '搜尋電子郵件或名稱', yes: '是', no: '否',
    },
  },
  'zh-Hans': {
    title: '健身',
    summary: '所有用户的运动记录（按设备的指标定义展开），以及用户。',
    nav: { sessions: '运动记录', users: '用户' },
    session: {
      start: '开始时间', user: '用户', device: '设备', source: '来源', duration: '时长', calories: '热量 (kcal)',
      distance: '距离 (m)', allDevices: '全部设备', allSources: '全部来源', metrics: '指标摘要',
      noMetrics: '这条记录没有指标摘要。', unknown: '没有定义',
    },
    source: { free: '自由训练', backend: '后台课程', local: '内置课程' },
    user: {
      id: '编号', email: '电子邮箱', name: '名称', admin: '管理员', active: '启用', created: '注册时间',
      searchHint: '搜索电子邮箱或名称', yes: '是', no: '否',
    },
  },
  en: {
    title: 'Fitness',
    summary: "Every user's workout sessions, their metrics drawn from the device schemas, and the users.",
    nav: { sessions: 'Sessions', users: 'Users' },
    session: {
      start: 'Started', user: 'User', device: 'Device', source: 'Source', duration: 'Duration', calories: 'Calories (kcal)',
      distance: 'Distance (m)', allDevices: 'All devices', allSources: 'All sources', metrics: 'Metrics summary',
      noMetrics: 'This session has no metrics summary.', unknown: 'no schema',
    },
    source: { free: 'Free', backend: 'Back-office course', local: 'Built-in course' },
    user: {
      id: 'Id', email: 'Email', name: 'Name', admin: 'Admin', active: 'Active', created: 'Signed up',
      searchHint: 'Search email or name', yes: 'Yes', no: 'No',
    },
  },
}
