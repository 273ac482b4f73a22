from enum import StrEnum


class UnitKind(StrEnum):
    COMMAND = "command"  # 指挥部: province, city/county, district, town
    COMMITTEE = "committee"  # 村(居)委会: administrative village / community
    DEPARTMENT = "department"
    GRID = "grid"


KIND_LABELS = {
    UnitKind.COMMAND: "指挥部",
    UnitKind.COMMITTEE: "村(居)委会",
    UnitKind.DEPARTMENT: "部门",
    UnitKind.GRID: "网格",
}

# Unit levels: 1 province, 2 city (and county-level cities directly under the province),
# 3 county/district, 4 town/street, 5 village/community, 6 grid.
GRID_LEVEL = 6
